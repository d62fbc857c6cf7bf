"""Reading the catalog: a page of products as the database writes their bodies."""

from ..documents import Document, Statements, as_array, fetch
from ..pagination import finish_page
from .models import Product
from .schemas import ProductSchema

# ProductSchema's fields are the columns: a field added there is in every page too.
PRODUCT = Document(ProductSchema, Product)

_page = Statements(
    lambda everyone, after: PRODUCT.select(
        "p",
        " AND ".join(([] if everyone else ["p.active = %s"]) + (["p.id < %s"] if after else [])),
        order_by="p.id DESC",
        limit=True,
    )
)


def product_page_document(with_inactive, args, headers):
    """The body of GET /products (JSON bytes), newest first; a next Link in `headers`."""
    after = args.get("starting_after")
    params = ([] if with_inactive else [True]) + ([after] if after is not None else [])
    rows = fetch(_page(with_inactive, after is not None), [*params, args["limit"] + 1])
    return as_array(finish_page(rows, Product.id, args, headers))

"""The catalog: anyone reads active products; admins add and change them."""

import peewee
from flask.views import MethodView

from ..auth import current_caller
from ..database import db
from ..documents import response
from ..errors import Conflict, NotFound
from ..extensions import Blueprint
from ..pagination import LINK_HEADER_DOC
from .models import Product
from .queries import product_page_document
from .schemas import (
    ProductCreateSchema,
    ProductPatchSchema,
    ProductQueryArgsSchema,
    ProductSchema,
)

blp = Blueprint("products", __name__, url_prefix="/products", description="The catalog")


def sees_inactive():
    caller = current_caller(optional=True)
    return caller is not None and caller.is_admin


def save(product_id, data):
    """Insert or update, 409 when the sku is taken."""
    try:
        with db.atomic():
            if product_id is None:
                return Product.create(**data)
            Product.update(**data).where(Product.id == product_id).execute()
            return Product.get_by_id(product_id)
    except peewee.IntegrityError:
        raise Conflict(f"A product with sku {data.get('sku')!r} already exists.") from None


@blp.route("")
class Products(MethodView):
    @blp.doc(operationId="listProducts")
    @blp.auth(optional=True)
    @blp.arguments(ProductQueryArgsSchema, location="query")
    @blp.response(200, ProductSchema(many=True), headers=LINK_HEADER_DOC)
    def get(self, args):
        """List products, newest first (inactive ones for admins only)"""
        headers = {}
        return response(product_page_document(sees_inactive(), args, headers), headers)

    @blp.doc(operationId="createProduct")
    @blp.auth(admin=True)
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema)
    @blp.errors(409)
    def post(self, data):
        """Add a product"""
        return save(None, data)


@blp.route("/<id:product_id>")
class ProductById(MethodView):
    @blp.doc(operationId="getProduct")
    @blp.auth(optional=True)
    @blp.response(200, ProductSchema)
    @blp.errors(404)
    def get(self, product_id):
        """Get one product"""
        product = Product.get_or_none(Product.id == product_id)
        if product is None or not (product.active or sees_inactive()):
            raise NotFound(f"Product {product_id} not found.")
        return product

    @blp.doc(operationId="updateProduct")
    @blp.auth(admin=True)
    @blp.arguments(ProductPatchSchema)
    @blp.response(200, ProductSchema)
    @blp.errors(404, 409)
    def patch(self, data, product_id):
        """Change a product (orders already placed keep their prices)"""
        if not Product.select().where(Product.id == product_id).exists():
            raise NotFound(f"Product {product_id} not found.")
        return save(product_id, data) if data else Product.get_by_id(product_id)

"""Every model, in dependency order: what migrations must produce."""

from .events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from .leads.models import Lead, LeadStatus
from .orders.models import Fulfillment, IdempotencyKey, Order, OrderHistory, OrderLine
from .payments.models import PaymentEvent, Refund
from .products.models import Product

MODELS = (Product, Order, OrderLine, OrderHistory, IdempotencyKey, PaymentEvent, LeadStatus, Lead)
MODELS += (Event, WebhookEndpoint, Delivery, DeliveryAttempt, Refund, Fulfillment)

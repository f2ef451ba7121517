"""Every table, imported in one place so Alembic and the mappers see the whole schema."""

from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.conditions.models import Condition
from app.core.db import Base
from app.drugs.models import (
    Combination,
    CombinationComponent,
    Drug,
    DrugCode,
    DrugSource,
    Faq,
    Indication,
    MonitoringItem,
    PatientStory,
    Section,
    SideEffect,
)
from app.idempotency.models import IdempotencyRecord
from app.publishing.models import (
    ContentState,
    PublicationEvent,
    PublishedCombinationComponent,
    PublishedDrug,
    PublishedDrugCode,
    PublishedDrugCondition,
    PublishedDrugLocale,
)
from app.resources.models import DrugSupportResource, SupportResource
from app.revisions.models import DrugRevision
from app.search.models import SearchEntry
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "Combination",
    "CombinationComponent",
    "Condition",
    "ContentState",
    "Drug",
    "DrugCode",
    "DrugRevision",
    "DrugSource",
    "DrugSupportResource",
    "Faq",
    "IdempotencyRecord",
    "Indication",
    "MonitoringItem",
    "PatientStory",
    "PublicationEvent",
    "PublishedCombinationComponent",
    "PublishedDrug",
    "PublishedDrugCode",
    "PublishedDrugCondition",
    "PublishedDrugLocale",
    "SearchEntry",
    "Section",
    "SideEffect",
    "SupportResource",
    "WebhookDelivery",
    "WebhookEndpoint",
]

"""What a PATCH changes: merge-patch rules, status transitions, and the list of changed fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET

from service.accounts import validation as rules
from service.accounts.representation import CHANGEABLE
from service.accounts.schema import AccountPatch, StatusReport
from service.errors import BadRequest, Conflict, ConstraintViolations, Violation
from service.integrations.catalog import Integration
from service.web import constraints

WORKER_STATUSES = ("connecting", "connected", "disconnected", "error")
PAUSED_CONFLICT = "The account is paused; its owner or customer must resume it first."
NEW_CREDENTIALS_STATUS = (
    'New credentials always start "connecting": leave "status" out or set it to "connecting".'
)


@dataclass(slots=True)
class Change:
    """The account's columns before and after the change, and the new credentials if any."""

    before: dict[str, Any]
    values: dict[str, Any]
    credentials: dict[str, str] | None = None

    @property
    def changed(self) -> list[str]:
        """API names of the fields that change, in a stable order; credentials count when replaced."""
        return [name for name, column in CHANGEABLE.items() if self._differs(name, column)]

    def _differs(self, name: str, column: str) -> bool:
        if name == "credentials":
            return self.credentials is not None
        return bool(self.values[column] != self.before[column])

    def set(self, api_name: str, value: Any) -> None:
        self.values[CHANGEABLE[api_name]] = value


def _start(row: Mapping[str, Any]) -> Change:
    before = {column: row[column] for column in CHANGEABLE.values() if column != "credentials"}
    return Change(before, dict(before))


def check_patch(patch: AccountPatch) -> None:
    """Rules that need no stored state: NUL characters (400), then field violations (422)."""
    constraints.reject_nul_fields(patch)
    if patch.status_reason is not UNSET:
        raise BadRequest('The "statusReason" attribute is read-only; workers report it.')
    found: list[Violation] = []
    if patch.name is not UNSET:
        rules.check_name(patch.name, found)
    if patch.headline is not UNSET:
        rules.check_length("headline", patch.headline, rules.MAX_HEADLINE, found)
    if patch.avatar is not UNSET:
        rules.check_avatar(patch.avatar, found)
    if patch.external_id is not UNSET:
        rules.check_external_id(patch.external_id, found)
    if patch.settings is not UNSET:
        rules.check_json_object("settings", patch.settings, found)
    if patch.metadata is not UNSET:
        rules.check_json_object("metadata", patch.metadata, found)
    if found:
        raise ConstraintViolations(found)


def merge(row: Mapping[str, Any], patch: AccountPatch, integration: Integration) -> Change:
    """Apply an owner's or customer's merge patch (already through `check_patch`) to the stored row."""
    change = _start(row)
    if patch.name is not UNSET:
        change.set("name", patch.name)
    if patch.headline is not UNSET:
        change.set("headline", patch.headline)
    if patch.avatar is not UNSET:
        change.set("avatar", patch.avatar)
    if patch.external_id is not UNSET:
        change.set("externalId", patch.external_id)
    # JSON columns are replaced whole, as API Platform does; null resets them to {}.
    if patch.settings is not UNSET:
        change.set("settings", patch.settings or {})
    if patch.metadata is not UNSET:
        change.set("metadata", patch.metadata or {})
    if patch.credentials is not UNSET:
        found: list[Violation] = []
        rules.check_credentials(integration, patch.credentials, found)
        if found:
            raise ConstraintViolations(found)
        change.credentials = dict(patch.credentials)
    status = row["status"]
    if change.credentials is not None:
        _new_credentials(change, patch)
    elif patch.status is not UNSET and patch.status != status:
        if not (patch.status == "paused" or (patch.status == "connecting" and status == "paused")):
            raise BadRequest(
                'The "status" attribute is read-only: it may only be set to "paused", '
                'or to "connecting" to resume a paused account.'
            )
        _set_status(change, patch.status)
    return change


def _new_credentials(change: Change, patch: AccountPatch) -> None:
    """New credentials must be verified again by a worker: `connecting`, without the old reason. Any
    other status in the same PATCH is refused rather than silently dropped."""
    if patch.status is not UNSET and patch.status != "connecting":
        raise ConstraintViolations([Violation("status", NEW_CREDENTIALS_STATUS, constraints.NO_SUCH_CHOICE)])
    change.set("status", "connecting")
    change.set("statusReason", None)


def report(row: Mapping[str, Any], status_report: StatusReport) -> Change:
    """Apply a worker's status report: only `status` and `statusReason`, never on a paused account."""
    constraints.reject_nul_fields(status_report)
    found: list[Violation] = []
    wanted = status_report.status
    if wanted is not UNSET and wanted not in WORKER_STATUSES and wanted != row["status"]:
        found.append(Violation("status", constraints.INVALID_CHOICE, constraints.NO_SUCH_CHOICE))
    if status_report.status_reason is not UNSET:
        rules.check_length("statusReason", status_report.status_reason, rules.MAX_STATUS_REASON, found)
    if found:
        raise ConstraintViolations(found)
    change = _start(row)
    if status_report.status is not UNSET:
        _set_status(change, status_report.status)
    if status_report.status_reason is not UNSET:
        change.set("statusReason", status_report.status_reason)
    if row["status"] == "paused" and change.changed:
        raise Conflict(PAUSED_CONFLICT)
    return change


def _set_status(change: Change, status: str) -> None:
    """A new status starts without the reason of the previous one."""
    if status != change.before["status"]:
        change.set("status", status)
        change.set("statusReason", None)

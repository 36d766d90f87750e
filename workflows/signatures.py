"""Click-sign, shared by every process that needs a signature (authorized reseller
agreement, VAR agreement, Rocket.Chat partner contract, a quotation).

`collect_signature()` renders and stores the agreement (activity), emails the signer a
signed, expiring link to the sign page, reminds, and waits for the `sign_agreement` signal;
the signature is stored with the hash of the exact text the signer saw.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        AgreementDraft,
        AgreementRequest,
        AgreementSignature,
        SignedAgreement,
    )
    from models.tasks import LinkSpec

from workflows.calls import RECORD, call
from workflows.deadlines import Deadline, business_deadline
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow


def sign_task(task: str, assignee: str, description: str) -> HumanTask:
    """A human step completed by the `sign_agreement` signal."""
    return HumanTask(
        task=task,
        handler="sign_agreement",
        assignee=assignee,
        description=description,
        model=AgreementSignature,
        example={
            "agreement_id": "agr_…",
            "sha256": "…",
            "name": "Jane Doe",
            "title": "CEO",
            "email": "jane@example.com",
            "agreed": True,
        },
    )


class AgreementWorkflow(ProcessWorkflow):
    """A process workflow that collects click-signatures."""

    def __init__(self) -> None:
        super().__init__()
        self._drafts: dict[str, AgreementDraft] = {}
        self._signatures: dict[str, AgreementSignature] = {}

    @workflow.signal
    def sign_agreement(self, payload: Any) -> None:
        """The signer click-signs an agreement (sent by the sign page, or by an operator with
        the signer's written consent). The pending task's example holds the ids:
        `{"agreement_id": "agr_…", "sha256": "…", "name": "Jane Doe", "title": "CEO",
        "email": "jane@example.com", "agreed": true}`"""
        agreement_id = payload.get("agreement_id") if isinstance(payload, dict) else None
        task = next(
            (
                t
                for t in self._tasks.values()
                if t.handler == "sign_agreement" and t.example.get("agreement_id") == agreement_id
            ),
            None,
        )
        if task is None:
            self.note(
                "sign_agreement",
                "system",
                "rejected",
                field="agreement_id",
                reason=f"no agreement {agreement_id!r} is waiting for a signature",
            )
            return
        spec = HumanTask(
            task.task,
            task.handler,
            task.assignee,
            task.description,
            AgreementSignature,
            task.example,
        )
        signature = self.accept(spec, payload, AgreementSignature)
        if signature is None or signature.agreement_id in self._signatures:
            return
        if signature.sha256 != self._drafts[signature.agreement_id].sha256:
            self.note(
                task.task,
                signature.email,
                "rejected",
                field="sha256",
                reason="the signed text is not the current version of the agreement",
            )
            return
        self._signatures[signature.agreement_id] = signature.model_copy(
            update={"signed_at": signature.signed_at or workflow.now()}
        )

    async def collect_signature(
        self,
        task: HumanTask,
        *,
        kind: str,
        template: str,
        context: dict[str, Any],
        signer_name: str,
        signer_email: str,
        company: str,
        vendor: str = "Mattermost",
        valid_business_days: int = 10,
        reminder_business_days: tuple[int, ...] = (3, 6),
        calendar: str = "US",
    ) -> SignedAgreement | None:
        """Prepare, send and wait for one signature; None when the link expired unsigned."""
        workflow_id = workflow.info().workflow_id
        now = workflow.now()
        expires_at = await business_deadline(now, valid_business_days, calendar)
        reminders = [
            await business_deadline(now, days, calendar) for days in reminder_business_days
        ]
        draft = await call(
            "prepare_agreement",
            AgreementRequest(
                idempotency_key=f"{workflow_id}:{task.task}",
                workflow_id=workflow_id,
                kind=kind,
                template=template,
                context=context,
                signer_email=signer_email,
                expires_at=expires_at,
            ),
            options=RECORD,
            result_type=AgreementDraft,
            summary=f"prepare {kind}",
        )
        self._drafts[draft.agreement_id] = draft
        self._facts[f"{task.task}_agreement"] = {
            "agreement_id": draft.agreement_id,
            "title": draft.title,
            "sha256": draft.sha256,
            "expires_at": expires_at.isoformat(),
        }
        example = {
            "agreement_id": draft.agreement_id,
            "sha256": draft.sha256,
            "name": signer_name,
            "title": "Managing Director",
            "email": signer_email,
            "agreed": True,
        }
        self.open_task(task, expires_at, example=example)
        links = {
            "sign_url": LinkSpec(
                purpose="sign_agreement", expires_at=expires_at, subject=draft.agreement_id
            )
        }
        mail = {
            "agreement_title": draft.title,
            "signer_name": signer_name,
            "company": company,
            "vendor": vendor,
            "expires_at": expires_at.isoformat(),
        }
        await self.email(
            f"{task.task}:request", [signer_email], "agreement_signature_request", mail, links=links
        )

        async def remind(number: int) -> None:
            await self.email(
                f"{task.task}:reminder:{number}",
                [signer_email],
                "agreement_signature_reminder",
                {**mail, "reminder_number": number},
                links=links,
            )

        signed = await self.wait_for(
            task,
            lambda: draft.agreement_id in self._signatures,
            Deadline(reminders=reminders, expires_at=expires_at, remind=remind),
        )
        self.close_task(task.task)
        if not signed:
            # A wait ended by a withdrawal is not an expiry: the withdrawal is recorded instead.
            if not self.clock.interrupted():
                self.note(task.task, "system", "expired", agreement_id=draft.agreement_id)
            return None
        result = await call(
            "record_signature",
            self._signatures[draft.agreement_id],
            options=RECORD,
            result_type=SignedAgreement,
            summary=f"store signature of {draft.agreement_id}",
        )
        self.note(
            task.task,
            result.signer_email,
            "signed",
            agreement_id=result.agreement_id,
            name=result.signer_name,
            title=result.signer_title,
            sha256=result.sha256,
        )
        self._facts[f"{task.task}_agreement"]["signed_at"] = result.signed_at.isoformat()
        return result

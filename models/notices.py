"""The words of the partner-lifecycle emails (VAR and SI applications, directory listing,
evaluation license), rendered by the `partner_notice` email template.

`notice(kind, context)` turns a process's facts into a headline, paragraphs, a facts table
and an optional button (`action_url`, a signed link the email activity renders at send
time). Pure: the workflows call it; the wording lives here, not in workflow code.
"""

from __future__ import annotations

from typing import Any


def _date(value: Any) -> str:
    text = str(value or "")
    return text[:10] if len(text) >= 10 else text


def notice(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """The `partner_notice` context for one kind of email."""
    company = context.get("company", "")
    base = {"company": company, "contact_name": context.get("contact_name", ""), "kind": kind}
    reminder = context.get("reminder_number")
    again = f"Reminder {reminder}: " if reminder else ""
    if kind == "application_declined":
        reasons = [str(r) for r in context.get("reasons") or [] if r]
        return base | {
            "headline": f"Your application to the {context['program']}",
            "paragraphs": [
                (
                    f"Thank you for applying to the {context['program']} with {company}. After "
                    f"reviewing application {context['application_id']}, we cannot take it further "
                    "at this time."
                ),
                "The reasons:" if reasons else "",
                *[f"- {reason}" for reason in reasons],
                "If your situation changes, you are welcome to apply again.",
            ],
            "facts": [["Application", context["application_id"]]],
        }
    if kind == "application_information_request":
        return base | {
            "headline": (
                f"{again}More information needed for application {context['application_id']}"
            ),
            "paragraphs": [
                (
                    f"Thank you for applying to the {context['program']}. To continue the review, "
                    "we need a few more details:"
                ),
                str(context["questions"]),
                (
                    f"Please reply by {_date(context.get('expires_at'))}; the review goes on as "
                    "soon as we have your answers."
                ),
            ],
            "facts": [
                ["Application", context["application_id"]],
                ["Answer by", _date(context.get("expires_at"))],
            ],
        }
    if kind == "partner_welcome":
        facts = [["Partner type", context["partner_type"]]]
        if context.get("discount_percent"):
            facts.append(
                [
                    "Reseller discount",
                    f"{context['discount_percent']}% off list prices (approved deal registrations)",
                ]
            )
        if context.get("sales_manager"):
            manager = context["sales_manager"]
            facts.append(["Your Sales Manager", f"{manager['name']} <{manager['email']}>"])
        return base | {
            "headline": f"Welcome to the {context['program']}",
            "paragraphs": [
                (
                    f"{company} is now a Mattermost {context['partner_type']}. Your partnership "
                    "includes:"
                ),
                *[f"- {benefit}" for benefit in context.get("benefits") or []],
                (
                    "We will send you a link to submit your listing for the Mattermost partner "
                    "directory."
                ),
            ],
            "facts": facts,
        }
    if kind == "listing_request":
        return base | {
            "headline": f"{again}Your listing in the Mattermost partner directory",
            "paragraphs": [
                (
                    "Now that your partner agreement is in place, please submit your listing for "
                    "the Mattermost partner directory (https://mattermost.com/partners/):"
                ),
                (
                    "- partner name (your legal name may be abbreviated), a 30–100-word "
                    "description of your business, the city, state/province and country of your "
                    "main office, your website, and your logo (at least 200 px wide)."
                ),
                "Value-Added Reseller listings show your reseller territory.",
            ],
            "facts": [["Partner", context["partner_id"]]],
            "action_label": "Submit your listing",
        }
    if kind == "listing_changes_requested":
        return base | {
            "headline": "Changes needed to your directory listing",
            "paragraphs": [
                (
                    "Thank you for your directory listing. Before we publish it, please make "
                    "these changes and submit it again:"
                ),
                str(context.get("comments") or ""),
            ],
            "facts": [["Partner", context["partner_id"]]],
            "action_label": "Update your listing",
        }
    if kind == "listing_published":
        verb = "updated" if context.get("updated") else "published"
        return base | {
            "headline": f"Your directory listing is {verb}",
            "paragraphs": [
                (
                    f"The listing of {context.get('name', company)} is {verb} in the Mattermost "
                    "partner directory (https://mattermost.com/partners/). To change it, submit "
                    "an update with the link below; a reviewer checks it before it replaces the "
                    "published listing."
                )
            ],
            "facts": [["Partner", context["partner_id"]]],
            "action_label": "Update your listing",
        }
    if kind == "evaluation_license_refused":
        return base | {
            "headline": "Your Partner Evaluation License request",
            "paragraphs": [
                (
                    "Thank you for requesting a Partner Evaluation License for Mattermost "
                    "Enterprise. We cannot deliver it:"
                ),
                str(context.get("reason") or ""),
                (
                    "Evaluation licenses are available to active Mattermost Value-Added Resellers "
                    "and System Integrators partners."
                ),
            ],
            "facts": [["Partner", context["partner_id"]]],
        }
    if kind == "evaluation_license_issued":
        return base | {
            "headline": "Your Partner Evaluation License for Mattermost Enterprise",
            "paragraphs": [
                (
                    "Your one-year Mattermost Enterprise evaluation license is attached. To "
                    "activate it, sign in to Mattermost as a system admin, open System Console > "
                    "About > Edition and License, and upload the file."
                ),
                "We will remind you 30 days before it expires; the license is renewable.",
            ],
            "facts": [
                ["License ID", context["license_id"]],
                ["Users", str(context["users"])],
                ["Valid from", _date(context["starts_at"])],
                ["Valid until", _date(context["expires_at"])],
                ["License year", str(context.get("license_year", 1))],
            ],
        }
    if kind == "evaluation_license_expiring":
        return base | {
            "headline": f"Your Partner Evaluation License expires in {context['days']} days",
            "paragraphs": [
                (
                    "Your Mattermost Enterprise evaluation license expires soon. Our license desk "
                    "reviews its renewal now; you will receive the new license by email."
                )
            ],
            "facts": [
                ["License ID", context["license_id"]],
                ["Valid until", _date(context["expires_at"])],
            ],
        }
    if kind == "partner_offboarded":
        deals = [str(d) for d in context.get("open_deals") or []]
        return base | {
            "headline": f"Your partnership ends on {_date(context.get('effective_date'))}",
            "paragraphs": [
                (
                    f"{company} leaves the {context['program']} as of "
                    f"{_date(context.get('effective_date'))}: {context.get('reason', '')}"
                ),
                (
                    "Your listing in the partner directory is withdrawn and your evaluation "
                    "license ends without renewal. Your customers keep their subscriptions."
                ),
                (
                    "Your open deal registrations lose their protection; the reviewer of each "
                    "is informed:"
                    if deals
                    else "You have no open deal registrations."
                ),
                *[f"- {deal}" for deal in deals],
            ],
            "facts": [
                ["Partner", context.get("partner_id", "")],
                ["Effective", _date(context.get("effective_date"))],
            ],
        }
    raise KeyError(f"unknown notice {kind!r}")


# The partner portal's page about each kind of email (the portal's home for the others);
# None: the reader cannot sign in to the portal (an applicant, a partner that left).
PORTAL_PAGES: dict[str, str | None] = {
    "application_declined": None,
    "application_information_request": None,
    "partner_offboarded": None,
    "listing_request": "/portal/listing",
    "listing_changes_requested": "/portal/listing",
    "listing_published": "/portal/listing",
    "evaluation_license_refused": "/portal/evaluation",
    "evaluation_license_issued": "/portal/evaluation",
    "evaluation_license_expiring": "/portal/evaluation",
}

KINDS = (
    "application_declined",
    "application_information_request",
    "partner_welcome",
    "listing_request",
    "listing_changes_requested",
    "listing_published",
    "evaluation_license_refused",
    "evaluation_license_issued",
    "evaluation_license_expiring",
    "partner_offboarded",
)

"""Mail templates, rendering in both languages, the outbox, sending, the log (notifications services)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from tests.web.calls.conftest import set_phase
from tremplin.web.calls import services as calls_services
from tremplin.web.core.models import AuditLog
from tremplin.web.jobs.services import job_run
from tremplin.web.notifications import registry, services
from tremplin.web.notifications.models import MailStatus, MailTemplate, OutgoingMail

pytestmark = pytest.mark.django_db

SELECTED = "calls.decision.selected"


def _texts(**overrides):
    values = {"subject_fr": "Décision : {{ proposal_title }}", "body_fr": "Bonjour {{ name }}, {{ outcome }}.",
              "subject_en": "Decision: {{ proposal_title }}", "body_en": "Hello {{ name }}, {{ outcome }}."}
    return {**values, **overrides}


def _release(reviewed):
    p1, p2 = reviewed.proposals
    calls_services.decision_record(proposal=p1, outcome="selected", reason="Impact fort", by=reviewed.manager)
    calls_services.decision_record(proposal=p2, outcome="rejected", reason="Peu étayé", by=reviewed.manager)
    calls_services.decisions_release(call=reviewed.call, by=reviewed.manager)


def _send_held(by, **filters):
    count, job = services.outbox_send(mails=OutgoingMail.objects.filter(status="held", **filters), by=by)
    if job is not None:
        job_run(job_id=str(job.pk))  # what the worker does
    return count


# --- rendering in both languages -----------------------------------------------------------------------------


def test_default_decision_mail_in_french_and_in_english(reviewed, make_user):
    english = make_user("innovator", organisation=reviewed.applicant, display_name="Jane Doe")
    services.preference_save(user=english, language="en", digest="daily")
    _release(reviewed)
    mails = {(m.to_email, m.kind): m for m in OutgoingMail.objects.all()}
    fr = mails[(reviewed.innovator.email, SELECTED)]
    en = mails[(english.email, SELECTED)]
    assert (fr.language, en.language) == ("fr", "en")
    assert fr.subject == "[Tremplin] Décision : Télésurveillance"
    assert "est publiée : Retenue." in fr.body and "Votre proposition est retenue." in fr.body
    assert "Impact fort" in fr.body and "Ines Candidate-Unique" in fr.body
    assert en.subject == "[Tremplin] Decision: Télésurveillance"
    # The outcome label itself is translated in the recipient's language.
    assert "is out: Selected." in en.body and "Your proposal is selected." in en.body and "Jane Doe" in en.body
    assert "{{" not in fr.body + en.body + fr.subject + en.subject


def test_a_call_template_is_rendered_in_each_language_and_only_for_that_call(reviewed, make_user):
    english = make_user("innovator", organisation=reviewed.applicant)
    services.preference_save(user=english, language="en", digest="daily")
    services.mail_template_save(kind=SELECTED, scope=reviewed.call, by=reviewed.manager, **_texts(
        body_fr="Félicitations {{ name }} : « {{ proposal_title }} » ({{ outcome }}). {{ reason }}",
        body_en="Congratulations {{ name }}: \"{{ proposal_title }}\" ({{ outcome }}). {{ reason }}"))
    _release(reviewed)
    fr = OutgoingMail.objects.get(kind=SELECTED, to_email=reviewed.innovator.email)
    en = OutgoingMail.objects.get(kind=SELECTED, to_email=english.email)
    assert fr.body == "Félicitations Ines Candidate-Unique : « Télésurveillance » (Retenue). Impact fort"
    assert en.body == f"Congratulations {english}: \"Télésurveillance\" (Selected). Impact fort"
    assert fr.template is not None and fr.template.scope_id == reviewed.call.pk
    # The rejected proposal's mail, without a template of its own, keeps the default text.
    rejected = OutgoingMail.objects.get(kind="calls.decision.rejected", to_email=reviewed.innovator.email)
    assert rejected.template is None and "n'est pas retenue" in rejected.body


def test_platform_template_applies_where_a_call_has_none(reviewed):
    services.mail_template_save(kind=SELECTED, scope=None, by=reviewed.manager, hold=True,
                                **_texts(body_fr="Plateforme : {{ outcome }}", body_en="Platform: {{ outcome }}"))
    assert services.template_values(kind=SELECTED, scope=reviewed.call)["source"] == "platform"
    _release(reviewed)
    assert OutgoingMail.objects.get(kind=SELECTED).body == "Plateforme : Retenue"
    assert services.mail_template_reset(kind=SELECTED, scope=None)
    assert services.template_values(kind=SELECTED, scope=reviewed.call)["source"] == "default"


def test_every_kind_renders_its_sample_in_both_languages_without_leftover_syntax():
    assert {"calls.assigned", "calls.review_reminder", SELECTED, "notifications.digest"} <= set(registry.KINDS)
    for kind in registry.KINDS.values():
        assert set(kind.sample) <= set(kind.placeholders), kind.key
        for language in ("fr", "en"):
            text = kind.default(language)
            assert services.template_errors(kind=kind.key, values={
                f"subject_{language}": text.subject, f"body_{language}": text.body,
                **{f"{p}_{o}": "x" for p in ("subject", "body") for o in ("fr", "en") if o != language}}) == {}
            subject, body = services.mail_render(kind=kind.key, language=language, context=kind.sample)
            assert "{{" not in subject + body and "}}" not in subject + body, (kind.key, language)
            for value in kind.sample.values():
                assert value.splitlines()[0] in subject + body, (kind.key, language, value)


# --- unknown placeholders are refused at save ----------------------------------------------------------------


def test_unknown_placeholder_is_refused_with_a_clear_error_and_nothing_is_saved(reviewed):
    with pytest.raises(ValidationError) as caught:
        services.mail_template_save(kind=SELECTED, scope=reviewed.call, by=reviewed.manager,
                                    **_texts(body_en="Hello {{ nom }}, budget {{ budget.total }}", subject_fr=""))
    errors = caught.value.message_dict
    assert set(errors) == {"body_en", "subject_fr"}
    assert any("nom" in e and "{{ proposal_title }}" in e for e in errors["body_en"])  # lists what is allowed
    assert any("budget.total" in e for e in errors["body_en"])
    assert "obligatoire" in errors["subject_fr"][0]
    assert MailTemplate.objects.count() == 0


def test_a_template_cannot_be_set_on_an_object_of_another_kind(reviewed):
    with pytest.raises(ValidationError):
        services.mail_template_save(kind="notifications.digest", scope=reviewed.call, **_texts(
            subject_fr="{{ count }}", body_fr="{{ items }}", subject_en="{{ count }}", body_en="{{ items }}"))


def test_reminder_days_are_validated(reviewed):
    texts = {f: services.template_values(kind="calls.review_reminder")[f] for f in services.TEXT_FIELDS}
    with pytest.raises(ValidationError) as caught:
        services.mail_template_save(kind="calls.review_reminder", scope=reviewed.call, options={"days_before": "7, x"},
                                    **texts)
    assert "option_days_before" in caught.value.message_dict
    saved = services.mail_template_save(kind="calls.review_reminder", scope=reviewed.call,
                                        options={"days_before": "1; 14, 3"}, **texts)
    assert saved.options == {"days_before": "14, 3, 1"}


# --- outbox, sending, log ------------------------------------------------------------------------------------


def test_held_mails_wait_then_go_in_bulk_and_every_step_is_logged_and_audited(reviewed):
    _release(reviewed)
    mail.outbox.clear()
    held = OutgoingMail.objects.filter(status=MailStatus.HELD)
    assert held.count() == 2 and mail.outbox == []
    assert _send_held(reviewed.manager) == 2
    assert len(mail.outbox) == 2
    decisions = OutgoingMail.objects.filter(kind__startswith="calls.decision.")
    assert sorted(m.subject for m in mail.outbox) == sorted(decisions.values_list("subject", flat=True))
    assert all(m.status == MailStatus.SENT and m.sent_at and m.sent_by == reviewed.manager for m in decisions)
    entries = AuditLog.objects.filter(model="notifications.outgoingmail")
    mine = entries.filter(object_repr__contains="calls.decision.")
    assert mine.filter(action="create").count() == 2  # queued
    assert entries.filter(action="update", object_repr__contains="2", actor=reviewed.manager).exists()  # bulk send
    assert mine.filter(action="update", changes__has_key="sent_at").count() == 2  # each result
    # Sending again sends nothing more.
    assert _send_held(reviewed.manager) == 0 and len(mail.outbox) == 2


def test_cancel_and_recompose_after_editing_the_template(reviewed):
    _release(reviewed)
    selected = OutgoingMail.objects.filter(kind=SELECTED)
    services.mail_template_save(kind=SELECTED, scope=reviewed.call, hold=True,
                                **_texts(body_fr="Nouveau texte : {{ outcome }} — {{ reason }}"))
    assert services.outbox_rerender(mails=selected) == 1
    assert selected.get().body == "Nouveau texte : Retenue — Impact fort"
    assert services.outbox_cancel(mails=OutgoingMail.objects.filter(kind="calls.decision.rejected"),
                                  by=reviewed.manager) == 1
    mail.outbox.clear()
    assert _send_held(reviewed.manager) == 1
    assert [m.body for m in mail.outbox] == ["Nouveau texte : Retenue — Impact fort"]
    assert set(OutgoingMail.objects.filter(kind__startswith="calls.decision.").values_list("status", flat=True)) \
        == {"sent", "cancelled"}


class FailingBackend:
    """A mail backend whose server refuses every message (as an SMTP server that is down would)."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP refused")


def test_a_failed_send_is_recorded_and_can_be_retried(reviewed, settings):
    _release(reviewed)
    settings.EMAIL_BACKEND = "tests.web.notifications.test_services.FailingBackend"
    assert _send_held(reviewed.manager) == 2
    decisions = OutgoingMail.objects.filter(kind__startswith="calls.decision.")
    assert set(decisions.values_list("status", "error")) == {("failed", "SMTP refused")}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    count, job = services.outbox_send(mails=decisions, by=reviewed.manager)
    job_run(job_id=str(job.pk))
    assert count == 2 and len(mail.outbox) == 2
    assert set(decisions.values_list("status", "attempts")) == {("sent", 2)}


def test_immediate_mails_are_logged_too(scenario):
    mail.outbox.clear()
    scenario.propose()
    calls_services.assignments_auto(call=scenario.call, by=scenario.manager)
    logged = OutgoingMail.objects.filter(kind="calls.assigned")
    assert logged.count() == 2 == len(mail.outbox)
    assert set(logged.values_list("status", flat=True)) == {"sent"}
    assert {m.to[0] for m in mail.outbox} == set(logged.values_list("to_email", flat=True))


def test_hold_setting_of_a_call_puts_assignment_notices_in_the_outbox(scenario):
    texts = {f: services.template_values(kind="calls.assigned")[f] for f in services.TEXT_FIELDS}
    services.mail_template_save(kind="calls.assigned", scope=scenario.call, hold=True, **texts)
    mail.outbox.clear()
    scenario.propose()
    calls_services.assignments_auto(call=scenario.call, by=scenario.manager)
    assert mail.outbox == [] and OutgoingMail.objects.filter(status="held").count() == 2


def test_dedupe_key_sends_once(scenario):
    for _ in range(2):
        services.mail_queue(kind="calls.assigned", recipients=[scenario.manager], scope=scenario.call,
                            context={"call_title": "x", "count": "1", "queue_url": "/"}, dedupe_key="once")
    assert OutgoingMail.objects.filter(dedupe_key="once").count() == 1


def test_set_phase_helper_still_moves_the_call(scenario):
    assert set_phase(scenario.call, "review").phase == "review"


def test_reviewer_mails_carry_no_applicant_identity():
    """Blind review: the placeholders of the mails reviewers receive are counts, dates, the call and links."""
    reviewer_safe = {"name", "call_title", "queue_url", "count", "pending", "deadline", "days_left"}
    for key in ("calls.assigned", "calls.review_reminder"):
        assert set(registry.kind(key).placeholders) <= reviewer_safe, key

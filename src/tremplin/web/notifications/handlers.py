"""Job handlers of the notifications app (registered on import)."""

from tremplin.web.jobs.registry import job_handler
from tremplin.web.notifications.services import mails_send_job

job_handler("notifications.send")(mails_send_job)

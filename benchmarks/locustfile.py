"""Locust scenario of benchmarks/bench_load.py: signed-in users of four roles browsing and submitting.

Reads the fixture written by `manage.py seed_load` (LOAD_FIXTURE: sessions and ids). Each request is named by
its page, so that the statistics are per page. Bounded: the run time is locust's --run-time, and the whole run
stops after LOAD_MAX_REQUESTS requests. Only the --host given (loopback) is ever contacted.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path

from locust import HttpUser, between, events, task

FIXTURE = json.loads(Path(os.environ["LOAD_FIXTURE"]).read_text())
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "30000"))
# Pages left out of a run (comma-separated names), to measure the others without a known slow page's queue.
SKIP = {name.strip() for name in os.environ.get("LOAD_SKIP", "").split(",") if name.strip()}
_requests = itertools.count(1)
_next_session = {role: itertools.cycle(entries) for role, entries in FIXTURE["sessions"].items()}
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@events.init.add_listener
def _bound_requests(environment, **kwargs):
    def count(**_):
        if next(_requests) >= MAX_REQUESTS and environment.runner is not None:
            environment.runner.quit()

    environment.events.request.add_listener(count)


class Visitor(HttpUser):
    abstract = True
    wait_time = between(1, 4)  # reading a page before the next click
    role = ""

    def on_start(self):
        me = next(_next_session[self.role])
        self.user_id = me["user"]
        self.client.cookies.set("sessionid", me["session"])

    def page(self, url: str, name: str):
        if name in SKIP:
            return None
        return self.client.get(url, name=name)

    def submit(self, form_url: str, fields: list[tuple[str, str]], name: str):
        """GET the form (its CSRF token), POST it; a success is a redirect (302), anything else a failure."""
        if name in SKIP:
            return
        form = self.client.get(form_url, name=f"{name} (form)")
        match = TOKEN.search(form.text or "")
        if match is None:
            return
        with self.client.post(form_url, data=[("csrfmiddlewaretoken", match.group(1)), *fields], name=name,
                              allow_redirects=False, catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"{response.status_code}: the form was not accepted")

    @task(2)
    def dashboard(self):
        self.page("/tableau-de-bord/", "dashboard")


class Innovator(Visitor):
    weight = 4
    role = "innovator"

    @task(1)
    def calls(self):
        self.page("/appels/", "call list")

    @task(1)
    def open_call(self):
        self.page(f"/appels/{FIXTURE['open_call']}/", "call detail")

    @task(2)
    def my_proposals(self):
        self.page("/appels/mes-propositions/", "my proposals")

    @task(1)
    def problems(self):
        self.page("/problematiques/", "problem list")

    @task(2)
    def problem(self):
        self.page(f"/problematiques/{random.choice(FIXTURE['problems'])}/", "problem detail")

    @task(1)
    def portfolio(self):
        self.page("/experimentations/", "portfolio")

    @task(1)
    def draft(self):
        n = random.randint(1, 10**9)
        fields = [("organisation", str(FIXTURE["organisations"][str(self.user_id)])),
                  ("title", f"Proposition de charge {n}"), ("summary", "Résumé."), ("description", "Texte."),
                  ("evidence_level", "idea"), ("territories", str(FIXTURE["territories"][0])),
                  ("budget-TOTAL_FORMS", "2"), ("budget-INITIAL_FORMS", "0"), ("budget-MIN_NUM_FORMS", "0"),
                  ("budget-MAX_NUM_FORMS", "1000"), ("budget-0-label", "Équipe"), ("budget-0-amount", "50000"),
                  ("budget-1-label", "Matériel"), ("budget-1-amount", "20000")]
        self.submit(f"/appels/{FIXTURE['open_call']}/proposer/", fields, "submit draft proposal")


class NetworkMember(Visitor):
    weight = 3
    role = "network_member"

    @task(3)
    def problems(self):
        self.page(f"/problematiques/?page={random.randint(1, 50)}", "problem list")

    @task(1)
    def search(self):
        self.page(f"/problematiques/?q={random.choice(['coordination', 'délais', 'domicile', 'urgences'])}",
                  "problem search")

    @task(3)
    def problem(self):
        self.page(f"/problematiques/{random.choice(FIXTURE['problems'])}/", "problem detail")

    @task(1)
    def report(self):
        n = random.randint(1, 10**9)
        fields = [("organisation", str(FIXTURE["organisations"][str(self.user_id)])),
                  ("title", f"Retours d'hospitalisation mal préparés {n}"),
                  ("description", "Les sorties d'hôpital du vendredi soir ne sont pas anticipées par la ville."),
                  ("domain", "chronic_disease"), ("territories", str(FIXTURE["territories"][1])),
                  ("confirm_distinct", "on")]
        self.submit("/problematiques/signaler/", fields, "report problem")


class Manager(Visitor):
    weight = 1
    role = "programme_manager"

    @task(2)
    def ranking(self):
        self.page(f"/appels/{FIXTURE['review_call']}/classement/", "call ranking (10,000 proposals)")

    @task(2)
    def portfolio(self):
        self.page("/experimentations/", "portfolio")

    @task(2)
    def experiment(self):
        self.page(f"/experimentations/{random.choice(FIXTURE['experiments'])}/", "experiment detail")

    @task(1)
    def problems(self):
        self.page("/problematiques/", "problem list")


class Reviewer(Visitor):
    weight = 2
    role = "reviewer"

    @task(3)
    def queue(self):
        self.page("/appels/a-evaluer/", "review queue")

    @task(2)
    def proposal(self):
        assigned = FIXTURE["assigned"].get(str(self.user_id))
        if assigned:
            self.page(f"/appels/propositions/{random.choice(assigned)}/", "proposal detail (reviewer)")

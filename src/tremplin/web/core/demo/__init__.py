"""Demo accounts (plain constants, importable without Django: scripts/demo.py prints them)."""

DEMO_PASSWORD = "Tremplin-demo-2026"
# A fixed TOTP secret for the demo accounts that must use a second factor (never used outside the demo).
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

DEMO_USERS = [
    # email, display name, role, organisation, organisation admin?
    ("admin@demo.tremplin.org", "Alice Admin", "admin", "Agence régionale de santé Auvergne-Rhône-Alpes", True),
    ("manager@demo.tremplin.org", "Paul Pilote", "programme_manager", "CEPSEM", True),
    ("member@demo.tremplin.org", "Nadia Réseau", "network_member", "CPTS de Villeurbanne", True),
    ("innovator@demo.tremplin.org", "Ines Innov", "innovator", "Kelvin Santé (jeune pousse de télésurveillance)", True),
    ("reviewer@demo.tremplin.org", "Rémi Relecteur", "reviewer", "Pôle santé HEC Montréal", False),
    ("evaluator@demo.tremplin.org", "Eva Luation", "evaluator", "Université Grenoble Alpes", False),
    ("decider@demo.tremplin.org", "Denis Décideur", "decision_maker", "Agence régionale de santé Auvergne-Rhône-Alpes",
     False),
]

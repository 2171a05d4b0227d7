"""Field constraints of the portfolio, enforced by the database too (issue 12, items 6 and 7).

Before the check constraints are added, stored values they would refuse are repaired with plain UPDATEs (a
value SQLite stored beyond the column's digits is never read, reading it is what failed): negative budget
amounts become 0 and deadline offsets are brought back within a century. KPI actuals that the column
cannot hold (SQLite kept `1e30` or `Inf` from the CSV import) are unreadable and meaningless: they are
deleted; such a KPI target becomes unknown (NULL).
"""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


MAX_AMOUNT = Decimal("999999999999.99")  # max_digits=14, decimal_places=2
MAX_OFFSET_MONTHS, MAX_OFFSET_DAYS = 1200, 36_600


def repair(apps, schema_editor):
    BudgetLine = apps.get_model("portfolio", "BudgetLine")
    Deadline = apps.get_model("portfolio", "Deadline")
    Kpi = apps.get_model("portfolio", "Kpi")
    KpiValue = apps.get_model("portfolio", "KpiValue")
    for name in ("committed", "spent"):
        BudgetLine.objects.filter(**{f"{name}__lt": 0}).update(**{name: 0})
    for name, bound in (("offset_months", MAX_OFFSET_MONTHS), ("offset_days", MAX_OFFSET_DAYS)):
        Deadline.objects.filter(**{f"{name}__gt": bound}).update(**{name: bound})
        Deadline.objects.filter(**{f"{name}__lt": -bound}).update(**{name: -bound})
    # Raw SQL: a queryset delete may load the rows first, and loading them is what fails.
    schema_editor.execute(f"DELETE FROM {KpiValue._meta.db_table} WHERE value > %s OR value < %s",
                          [MAX_AMOUNT, -MAX_AMOUNT])
    Kpi.objects.filter(models.Q(target__gt=MAX_AMOUNT) | models.Q(target__lt=-MAX_AMOUNT)).update(target=None)
    if schema_editor.connection.vendor == "postgresql":
        # Fire the deferred foreign-key checks of these updates now: PostgreSQL refuses to ALTER a table with
        # pending trigger events, and the constraints are added next in the same transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('portfolio', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='budgetline',
            name='committed',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, validators=[django.core.validators.MinValueValidator(0)], verbose_name='engagé (€)'),
        ),
        migrations.AlterField(
            model_name='budgetline',
            name='spent',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, validators=[django.core.validators.MinValueValidator(0)], verbose_name='dépensé (€)'),
        ),
        migrations.AlterField(
            model_name='deadline',
            name='offset_days',
            field=models.IntegerField(default=0, validators=[django.core.validators.MinValueValidator(-36600), django.core.validators.MaxValueValidator(36600)], verbose_name='décalage (jours)'),
        ),
        migrations.AlterField(
            model_name='deadline',
            name='offset_months',
            field=models.IntegerField(default=0, validators=[django.core.validators.MinValueValidator(-1200), django.core.validators.MaxValueValidator(1200)], verbose_name='décalage (mois)'),
        ),
        migrations.RunPython(repair, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='budgetline',
            constraint=models.CheckConstraint(condition=models.Q(('committed__gte', 0), ('spent__gte', 0)), name='portfolio_budgetline_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='deadline',
            constraint=models.CheckConstraint(condition=models.Q(('offset_days__gte', -36600), ('offset_days__lte', 36600), ('offset_months__gte', -1200), ('offset_months__lte', 1200)), name='portfolio_deadline_offsets_in_range'),
        ),
    ]

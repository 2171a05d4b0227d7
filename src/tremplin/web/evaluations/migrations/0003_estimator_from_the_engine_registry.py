# The estimator's choices are the engine's registry (tremplin.engine.estimators()), checked when a run is
# launched: no choices in the model state, so that an estimator added to the engine needs no migration.
# The column itself is unchanged (no SQL).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('evaluations', '0002_more_estimators'),
    ]

    operations = [
        migrations.AlterField(
            model_name='run',
            name='estimator',
            field=models.CharField(max_length=8, verbose_name='estimateur'),
        ),
    ]

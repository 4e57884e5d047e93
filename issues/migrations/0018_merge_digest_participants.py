from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0017_daily_rollup"),
        ("issues", "0017_digest_notifications"),
        ("issues", "0017_participants"),
    ]

    operations = []

"""Install the weekly Monday 07:00 timer that runs ``homelab-ops report --publish`` (the
report into the settings' report_dir, a summary to the notifier).

    pyinfra inventory/lab.py deploys/report_timer.py
"""

from homelab_ops.collection.deploys.report import report_timer

report_timer()

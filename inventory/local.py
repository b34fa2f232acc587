"""This machine, through pyinfra's @local connector (no SSH needed).

    pyinfra inventory/local.py deploys/<deploy>.py
"""

local = ["@local"]

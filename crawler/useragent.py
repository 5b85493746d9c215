"""The one User-Agent every Oversight request carries: it names the project and how to reach it."""

USER_AGENT = (
    "Oversight/0.1 (+https://github.com/oversight-archive/oversight; police-watchdog monitor)"
)

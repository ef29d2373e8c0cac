"""Entry points for the non-HTTP triggers (Service Bus, timers): take the process's services from the
composition root, build the ports a use case needs, and call it. Thin on purpose: no rule lives here.
May import the composition root, use cases and the domain; never an adapter directly.
"""

"""What runs inside TAO's interpreter: the registry of post-import hooks, the
patches (one module per TAO target), the loss, the diagnostics and what they share.

Imported only once TAO is (``_bootstrap``'s sentinel), never at start-up.
"""

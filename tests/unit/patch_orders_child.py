"""A fresh interpreter for the order suite: TAO imported before or after ``install()``.

``python patch_orders_child.py import-first|install-first`` prints one JSON line.
A post-import hook registered before the plugin's records TAO's own objects when
each module is first imported, whichever comes first, so that after
``uninstall()`` they can be compared by identity.
"""
import json
import os
import sys

import wrapt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patch_orders  # noqa: E402
import tao_sparse4d_fix  # noqa: E402
from tao_sparse4d_fix.runtime.patches import ALL  # noqa: E402

taken = {}


def take(module):
    for patch in ALL:
        if module.__name__ in patch.modules:
            taken[patch.target(module.__name__)] = patch_orders.snapshot(patch_orders.owner_of(patch, module))


for name in sorted({name for patch in ALL for name in patch.modules}):
    wrapt.register_post_import_hook(take, name)


def changed():
    return {target: patch_orders.differences(owner, taken[target]) for target, owner in patch_orders.owners().items()}


order = sys.argv[1]
if order == "import-first":
    patch_orders.owners()  # imports every target module
    tao_sparse4d_fix.install()
elif order == "install-first":
    tao_sparse4d_fix.install()
    patch_orders.owners()
else:
    raise SystemExit(f"unknown order {order!r}; valid: import-first, install-first")
result = {"applied": patch_orders.applied(), "modes": patch_orders.mode_values()}
tao_sparse4d_fix.uninstall()
result.update(after_uninstall=patch_orders.applied(), changed=changed(), stock=patch_orders.stock_state()[::2])
tao_sparse4d_fix.install()
result.update(reinstalled=patch_orders.applied(), modes_again=patch_orders.mode_values())
tao_sparse4d_fix.uninstall()
result.update(changed_again=changed())
print("RESULT=" + json.dumps(result))

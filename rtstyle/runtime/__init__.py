"""The runtime: what runs a model on this machine.

``hardware`` (cores, CUDA that really loads, device resolution), ``session`` (one model file in one onnxruntime
session), ``stylizer`` (``Stylizer``: names, tiers, blends, working size, strength and colour around sessions).
The style catalogue (``rtstyle.catalog``) sits below ``stylizer`` and above ``session``: no import cycle.
"""

"""Target plugins (hardware builds). Plugins are found through the `zoo.targets` entry-point group.

See `zoo/targets/base.py` for the plugin API.
"""

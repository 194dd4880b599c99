"""Fixes to moto that make it behave as AWS where it does not, loaded into moto_server through
PYTHONPATH by the tests and scripts/moto.sh. Each fix names the AWS behaviour it restores.

1. CreateLaunchTemplateVersion: moto keeps the new version's UserData as the plain base64 text
   instead of the decoded form CreateLaunchTemplate keeps, and then fails (HTTP 500,
   AssertionError) to launch any instance from that version. AWS launches it. The fix gives
   the version's UserData the form moto's other paths expect, on first use.
"""

try:
    from moto.ec2.models import launch_templates as _launch_templates
    from moto.ec2.utils import parse_user_data as _parse_user_data
except Exception:  # not moto's interpreter, or another moto: leave it alone
    _launch_templates = None

if _launch_templates is not None:
    _original = _launch_templates.LaunchTemplateVersion.user_data

    def _user_data(self):
        value = self.data.get("UserData")
        if isinstance(value, (str, bytes)) and not isinstance(value, type(_parse_user_data("AA=="))):
            self.data["UserData"] = _parse_user_data(value)
        return _original.fget(self)

    _launch_templates.LaunchTemplateVersion.user_data = property(_user_data)

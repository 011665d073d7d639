import os
import subprocess
import sys

import pytest

REPORT_ONEDNN = (
    "import composer.tf_runtime\n"
    "from tensorflow.python.util._pywrap_util_port import IsMklEnabled\n"
    "print(IsMklEnabled())"
)


@pytest.mark.slow
@pytest.mark.parametrize(("setting", "enabled"), [(None, "True"), ("0", "False")])
def test_onednn_is_on_unless_the_user_chose_otherwise(setting, enabled):
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    result = subprocess.run([sys.executable, "-c", REPORT_ONEDNN], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == enabled

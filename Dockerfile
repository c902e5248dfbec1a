# The TAO PyTorch image with tao-sparse4d-fix installed and switched on.
#
#   docker build --build-arg BASE_IMAGE=nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt \
#     -t nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt-sparse4d-fix .
#
# BASE_IMAGE: the image the TAO launcher maps sparse4d to (`tao-sparse4d-fix
# launcher` prints this exact command for the installed launcher). The tag
# keeps the launcher's registry and repository, so its `docker login` check
# passes and it finds the image locally instead of pulling it.
ARG BASE_IMAGE=nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt
FROM ${BASE_IMAGE}

# Only what the package build needs; installed non-editably, so pip puts the
# plugin's .pth hook into the image's site-packages. PIP_BREAK_SYSTEM_PACKAGES:
# the image's Python is the system one (pip refuses it if marked externally
# managed; older pips ignore the variable).
COPY setup.py setup.cfg pyproject.toml MANIFEST.in README.md tao_sparse4d_fix.pth entrypoint.sh /tmp/tao-sparse4d-fix/
COPY tao_sparse4d_fix /tmp/tao-sparse4d-fix/tao_sparse4d_fix
RUN PIP_BREAK_SYSTEM_PACKAGES=1 python -m pip install --no-cache-dir /tmp/tao-sparse4d-fix \
 && rm -rf /tmp/tao-sparse4d-fix

ENV TAO_SPARSE4D_FIX=1

# Fails the build when this TAO holds code the plugin does not recognise (or
# the plugin cannot load): better than a derived image that trains stock TAO.
RUN python -m tao_sparse4d_fix doctor

"""The ``tao-sparse4d-fix`` commands (also ``python -m tao_sparse4d_fix``)."""

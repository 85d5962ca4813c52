# The avx2 instruction-set variant of the kernels; see _kernels.pxi and setup.py.
include "_kernels.pxi"

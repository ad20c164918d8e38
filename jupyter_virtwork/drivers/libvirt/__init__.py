"""Hypervisors through libvirt-python (QEMU/KVM, Xen, the test driver): the driver, the
domain XML it defines, and the modules it delegates to (``driver``'s docstring maps them)."""

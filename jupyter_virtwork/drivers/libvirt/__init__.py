"""Hypervisors through libvirt-python (QEMU/KVM, Xen, the test driver): the driver and the
domain XML it defines."""

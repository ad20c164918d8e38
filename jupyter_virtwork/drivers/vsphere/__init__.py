"""vSphere (vCenter, ESXi) through pyVmomi: the driver and its session, property collector,
specs, placement, snapshots and tasks."""

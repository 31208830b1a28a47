"""Writes the plain-HDF5 (not netCDF-C) fixtures of the NetCDF-4 group tests
with h5py: run `python3 make_hdf5_fixtures.py` in this folder. The outputs
are committed, so the tests do not need h5py.

- hdf5_scales_groups.h5: dimension scales in the root and in a subgroup,
  attached through DIMENSION_LIST only (no _Netcdf4Dimid/_Netcdf4Coordinates).
- hdf5_cyclic_groups.h5: a group hard-linked into itself twice, so walking it
  never ends (2^depth paths) unless the reader bounds the walk.
"""
import h5py
import numpy as np

with h5py.File('hdf5_scales_groups.h5', 'w', track_order=True) as f:
    f['x'] = np.arange(4.0)
    f['x'].make_scale('x')
    g = f.create_group('sub', track_order=True)
    g.attrs['title'] = 'plain HDF5 group'
    g['y'] = np.arange(3.0)
    g['y'].make_scale('y')
    g['v'] = np.arange(12.0).reshape(4, 3)
    g['v'].dims[0].attach_scale(f['x'])
    g['v'].dims[1].attach_scale(g['y'])

with h5py.File('hdf5_cyclic_groups.h5', 'w') as f:
    a = f.create_group('a')
    a['x'] = np.arange(3, dtype='i4')
    a['b1'] = a
    a['b2'] = a

"""Dumps a NetCDF file as JSON using netCDF4-python (the netCDF-C library),
as the reference the climcat tests compare against. Raw values: no masking
or scaling. Numbers that JSON or JavaScript cannot hold exactly (NaN,
infinities, 64-bit integers) are written as strings."""
import json
import math
import sys

import netCDF4
import numpy as np


def plain(value):
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode('utf-8', 'replace')
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind in 'US':
        return [plain(v) for v in arr.ravel().tolist()]
    if arr.dtype.kind == 'O':
        return [str(v) for v in arr.ravel().tolist()]
    if arr.dtype.kind in 'iu' and arr.dtype.itemsize == 8:
        return [str(int(v)) for v in arr.ravel().tolist()]
    out = []
    for v in arr.ravel().tolist():
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            out.append(str(v))
        else:
            out.append(v)
    return out


def dtype_name(var_or_value):
    dt = getattr(var_or_value, 'dtype', None)
    if dt is str or dt == str:
        return 'string'
    dt = np.dtype(dt)
    return {
        'i1': 'byte', 'u1': 'ubyte', 'i2': 'short', 'u2': 'ushort', 'i4': 'int', 'u4': 'uint',
        'i8': 'int64', 'u8': 'uint64', 'f4': 'float', 'f8': 'double', 'S1': 'char', 'O': 'string',
    }.get(dt.str[1:], dt.str)


def main(path):
    ds = netCDF4.Dataset(path)
    ds.set_auto_maskandscale(False)
    ds.set_auto_chartostring(False)
    out = {
        'data_model': ds.data_model,
        'dimensions': [[d.name, len(d), d.isunlimited()] for d in ds.dimensions.values()],
        'global': {k: plain(ds.getncattr(k)) for k in ds.ncattrs()},
        'variables': [],
    }
    for v in ds.variables.values():
        data = v[...]
        if v.dtype == 'S1' or (hasattr(data, 'dtype') and data.dtype.kind == 'S'):
            values = [int(b) for b in np.asarray(data).astype('S1').view(np.uint8).ravel().tolist()]
        else:
            values = plain(data)
        out['variables'].append({
            'name': v.name,
            'type': dtype_name(v),
            'dimensions': list(v.dimensions),
            'shape': list(v.shape),
            'attributes': {k: plain(v.getncattr(k)) for k in v.ncattrs()},
            'values': values,
        })
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1])

"""Dumps a NetCDF file as JSON using netCDF4-python (the netCDF-C library),
as the reference the climcat tests compare against (`oracle.py FILE`), or
one hyperslab of a variable (`oracle.py FILE VAR START COUNT STRIDE`, comma
lists; VAR may be a full name such as forecast/tas). Raw values: no masking
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


def full_name(group, name):
    """netCDF-C's full name of an object of `group`, without the leading slash."""
    return name if group.path == '/' else group.path[1:] + '/' + name


def dump_variables(group):
    out = []
    for v in group.variables.values():
        data = v[...]
        if v.dtype == 'S1' or (hasattr(data, 'dtype') and data.dtype.kind == 'S'):
            values = [int(b) for b in np.asarray(data).astype('S1').view(np.uint8).ravel().tolist()]
        else:
            values = plain(data)
        out.append({
            'name': full_name(group, v.name),
            'type': dtype_name(v),
            'dimensions': [full_name(d.group(), d.name) for d in v.get_dims()],
            'shape': list(v.shape),
            'attributes': {k: plain(v.getncattr(k)) for k in v.ncattrs()},
            'values': values,
        })
    return out


def dump_dimensions(group):
    return [[full_name(group, d.name), len(d), d.isunlimited()] for d in group.dimensions.values()]


def walk(group):
    """Subgroups depth first, as ncdump lists them."""
    for g in group.groups.values():
        yield g
        yield from walk(g)


def main(path):
    ds = netCDF4.Dataset(path)
    ds.set_auto_maskandscale(False)
    ds.set_auto_chartostring(False)
    out = {
        'data_model': ds.data_model,
        'dimensions': dump_dimensions(ds),
        'global': {k: plain(ds.getncattr(k)) for k in ds.ncattrs()},
        'variables': dump_variables(ds),
        # NetCDF-4 subgroups: names are full paths without the leading slash.
        'groups': [
            {
                'name': g.path[1:],
                'dimensions': dump_dimensions(g),
                'attributes': {k: plain(g.getncattr(k)) for k in g.ncattrs()},
                'variables': dump_variables(g),
            }
            for g in walk(ds)
        ],
    }
    json.dump(out, sys.stdout)


def hyperslab(path, name, start, count, stride):
    """Raw values of variable `name` (full name) at start/count/stride (comma lists), flattened."""
    ds = netCDF4.Dataset(path)
    ds.set_auto_maskandscale(False)
    v = ds[name]
    index = tuple(slice(s, s + (c - 1) * k + 1, k) for s, c, k in zip(start, count, stride))
    json.dump(plain(v[index] if index else v[...]), sys.stdout)


def ints(text):
    return [int(x) for x in text.split(',') if x != '']


if __name__ == '__main__':
    if len(sys.argv) == 6:
        hyperslab(sys.argv[1], sys.argv[2], ints(sys.argv[3]), ints(sys.argv[4]), ints(sys.argv[5]))
    else:
        main(sys.argv[1])

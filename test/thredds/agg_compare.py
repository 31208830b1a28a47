"""Compares an OPeNDAP aggregation with xarray.open_mfdataset of the local files
(as combine_nested of the opened files, which is what open_mfdataset does).

usage: agg_compare.py URL SLICE LOCAL...   (SLICE like "2:5": records read across files with netCDF4)
Prints JSON: whether the datasets are equal (values, coordinates, decoded
times), the variables whose attributes differ, the global attributes that
differ, the decoded times of both sides, and whether netCDF4 reads of tas
over SLICE equal the concatenation of the local files.
"""
import json
import sys

import netCDF4
import numpy as np
import xarray as xr


def main():
    url, slice_text = sys.argv[1:3]
    files = sys.argv[3:]
    agg = xr.open_dataset(url, engine="netcdf4", use_cftime=True)
    # open_mfdataset without dask (not installed here, and open_mfdataset always
    # chunks): the same open_dataset per file + combine_nested it runs inside.
    parts = [xr.open_dataset(p, use_cftime=True) for p in files]
    mf = xr.combine_nested(
        parts,
        concat_dim="time",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        combine_attrs="override",
    )
    result = {}
    try:
        try:
            xr.testing.assert_equal(agg, mf)
            result["equal"] = True
        except AssertionError as error:
            result["equal"] = False
            result["difference"] = str(error)[:2000]
        result["attrs_differ"] = sorted(
            name for name in mf.variables if dict(mf[name].attrs) != dict(agg[name].attrs)
        )
        result["globals_differ"] = sorted(
            k for k, v in mf.attrs.items() if str(agg.attrs.get(k)) != str(v)
        )
        result["dtypes"] = {name: [str(agg[name].dtype), str(mf[name].dtype)] for name in mf.data_vars}
        result["times"] = [[str(t) for t in agg.time.values], [str(t) for t in mf.time.values]]
        result["length"] = int(agg.sizes["time"])
        result["warnings"] = agg.attrs.get("aggregation_warnings")
    finally:
        agg.close()
    start, stop = (int(x) for x in slice_text.split(":"))
    parts = []
    for path in files:
        with netCDF4.Dataset(path) as d:
            parts.append(np.ma.filled(d.variables["tas"][:], np.nan))
    expected = np.concatenate(parts)[start:stop]
    with netCDF4.Dataset(url) as d:
        got = np.ma.filled(d.variables["tas"][start:stop], np.nan)
    result["slice_shape"] = list(got.shape)
    result["slice_equal"] = bool(np.array_equal(expected, got, equal_nan=True))
    print(json.dumps(result))


main()

"""Compares what netCDF4-python and xarray read over OPeNDAP with the local file.

usage: dap_compare.py LOCAL URL VAR SLICES [decode_times=0]   (SLICES like "0:4:2,1:3,::2")
Prints JSON: per check, whether values, mask and dtype are equal, and the
decoded times (cftime) of both sides when VAR has a time dimension.
"""
import json
import sys

import netCDF4
import numpy as np
import xarray as xr


def parse_slices(text):
    out = []
    for part in text.split(","):
        bits = [int(b) if b else None for b in part.split(":")]
        out.append(slice(*bits) if len(bits) > 1 else bits[0])
    return tuple(out)


def main():
    local, url, var, slices = sys.argv[1:5]
    decode_times = len(sys.argv) < 6 or sys.argv[5] != "decode_times=0"
    sel = parse_slices(slices)
    result = {}
    with netCDF4.Dataset(local) as a, netCDF4.Dataset(url) as b:
        x = a.variables[var][sel]
        y = b.variables[var][sel]
        result["dtype"] = [str(x.dtype), str(y.dtype)]
        result["shape"] = [list(np.shape(x)), list(np.shape(y))]
        mx = np.ma.getmaskarray(x)
        my = np.ma.getmaskarray(y)
        result["mask_equal"] = bool(np.array_equal(mx, my))
        result["masked"] = int(mx.sum())
        result["values_equal"] = bool(
            np.array_equal(np.ma.filled(x, 0), np.ma.filled(y, 0))
        )
        tdim = a.variables[var].dimensions[0] if a.variables[var].dimensions else None
        if tdim and tdim in a.variables and "calendar" in a.variables[tdim].ncattrs():
            t = a.variables[tdim]
            tsel = sel[0] if sel else slice(None)
            ta = netCDF4.num2date(t[tsel], t.units, t.calendar)
            tb_var = b.variables[tdim]
            tb = netCDF4.num2date(tb_var[tsel], tb_var.units, tb_var.calendar)
            result["calendar"] = t.calendar
            result["times"] = [[str(v) for v in np.atleast_1d(ta)], [str(v) for v in np.atleast_1d(tb)]]
    opts = {"use_cftime": True} if decode_times else {"decode_times": False}
    xa = xr.open_dataset(local, **opts)
    xb = xr.open_dataset(url, engine="netcdf4", **opts)
    try:
        isel = {d: s for d, s in zip(xa[var].dims, sel)}
        va = xa[var].isel(isel)
        vb = xb[var].isel(isel)
        result["xarray_equal"] = bool(va.equals(vb))
        result["xarray_dtype"] = [str(va.dtype), str(vb.dtype)]
        tdim = xa[var].dims[0] if xa[var].dims else None
        if decode_times and tdim and tdim in xa.coords:
            result["xarray_times"] = [
                [str(v) for v in np.atleast_1d(va[tdim].values)],
                [str(v) for v in np.atleast_1d(vb[tdim].values)],
            ]
    finally:
        xa.close()
        xb.close()
    print(json.dumps(result))


main()

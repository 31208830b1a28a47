import { Inject, Injectable } from '@nestjs/common';
import { InvalidError, type Principal } from '@climcat/core';
import {
  boundariesGeoJson,
  boundariesWkt,
  datasetBBox,
  datasetXml,
  parseNcssQuery,
  planSubset,
  pointCsv,
  pointXml,
  readGrids,
  writeSubset,
  type NcssQuery,
  type SubsetPlan,
} from '@climcat/netcdf';
import { APP_CONFIG, type AppConfig } from '@climcat/platform';
import type { Writable } from 'node:stream';
import { OpendapService, type OpenedDap } from '../opendap/opendap.service';

/** A NetCDF answer: its exact length is known before the first byte is written. */
export interface NcssFile {
  bytes: number;
  filename: string;
  /**
   * Writes the answer to a socket or HTTP response (write callbacks mean written: staging
   * buffers are reused), telling `onWritten` each write's bytes; closes the file either way.
   */
  writeTo(target: Writable, onWritten?: (bytes: number) => void): Promise<void>;
  /** Gives the file back without writing (HEAD, or past the time limit). */
  close(): Promise<void>;
}

export interface NcssText {
  body: string;
  contentType: string;
}

/**
 * NetCDF Subset Service (grid) for catalogued files: the access chain and
 * file opening are OPeNDAP's (path → file record → canRead → reader), the
 * subset logic is `@climcat/netcdf`'s ncss module.
 */
@Injectable()
export class NcssService {
  constructor(
    private readonly opendap: OpendapService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private async withOpen<T>(
    caller: Principal,
    rawPath: string,
    fn: (o: OpenedDap) => Promise<T>,
  ): Promise<T> {
    const opened = await this.opendap.open(caller, rawPath);
    try {
      return await fn(opened);
    } finally {
      await opened.close();
    }
  }

  /** Parses the query, then resolves the path (so 401/404 win over netcdf4 refusals only after syntax). */
  parse(query: string): NcssQuery {
    return parseNcssQuery(query);
  }

  private plan(
    o: OpenedDap,
    q: NcssQuery,
    request: string,
    limit: { bytes: number; name: string },
  ): Promise<SubsetPlan> {
    // h5wasm can write dimension scales netCDF-C reads (H5DSattach_scale), but an HDF5 file's
    // layout is only known once written whole: no size before streaming, as NetCDF-3 has.
    if (q.accept === 'netcdf4')
      throw InvalidError.field(
        'query.accept',
        "netcdf4 output is not supported by this server: a NetCDF-4 (HDF5) file's size is only known once it is written whole, " +
          'so it could neither stream with a Content-Length nor be checked against THREDDS_BIN_LIMIT before writing; ' +
          'use accept=netcdf (NetCDF-3, 64-bit offset past 2 GiB), which every netCDF-4 client reads too',
      );
    return planSubset(o.dataset, q, { request, limit });
  }

  /** A grid subset (or a point's time series) as a streamed NetCDF-3 file of known length. */
  async subset(caller: Principal, rawPath: string, query: string, request: string): Promise<NcssFile> {
    const q = this.parse(query);
    const opened = await this.opendap.open(caller, rawPath);
    let plan: SubsetPlan;
    try {
      plan = await this.plan(opened, q, request, {
        bytes: this.config.opendap.binLimit,
        name: 'THREDDS_BIN_LIMIT',
      });
    } catch (error) {
      await opened.close();
      throw error;
    }
    const base = rawPath.split('/').pop() ?? 'subset.nc';
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await opened.close();
    };
    return {
      bytes: plan.fileBytes,
      filename: base.replace(/\.nc$/i, '') + '_subset.nc',
      // A client gone mid-answer destroys the target, which fails writeSubset.
      writeTo: (target, onWritten) =>
        writeSubset(opened.dataset, plan, target, { direct: true, onWritten }).finally(close),
      close,
    };
  }

  /** Grid as point in CSV or XML (a point in NetCDF goes through `subset`). */
  async point(caller: Principal, rawPath: string, query: string, request: string): Promise<NcssText> {
    const q = this.parse(query);
    return this.withOpen(caller, rawPath, async (o) => {
      const plan = await this.plan(o, q, request, {
        bytes: this.config.opendap.ascLimit,
        name: 'THREDDS_ASC_LIMIT',
      });
      if (q.accept === 'csv')
        return { body: await pointCsv(o.dataset, plan), contentType: 'text/csv; charset=utf-8' };
      return { body: await pointXml(o.dataset, plan, rawPath), contentType: 'text/xml; charset=utf-8' };
    });
  }

  /** Whether a parsed query asks for text (CSV/XML) rather than a file. */
  static isText(q: NcssQuery): boolean {
    return q.accept === 'csv' || q.accept === 'xml';
  }

  async datasetXml(caller: Principal, rawPath: string): Promise<string> {
    return this.withOpen(caller, rawPath, (o) => datasetXml(o.dataset, rawPath));
  }

  async boundaries(caller: Principal, rawPath: string, kind: 'json' | 'wkt'): Promise<NcssText> {
    return this.withOpen(caller, rawPath, async (o) => {
      const bbox = datasetBBox(await readGrids(o.dataset));
      if (!bbox)
        throw InvalidError.field('path', `${rawPath} has no grid with latitude/longitude coordinates`);
      return kind === 'wkt'
        ? { body: boundariesWkt(bbox), contentType: 'text/plain; charset=utf-8' }
        : { body: JSON.stringify(boundariesGeoJson(bbox)), contentType: 'application/geo+json' };
    });
  }

  /** Variable names and axes for the HTML form. */
  async formData(caller: Principal, rawPath: string): Promise<{ grids: string[]; xml: string }> {
    return this.withOpen(caller, rawPath, async (o) => ({
      grids: (await readGrids(o.dataset)).flatMap((g) => g.variables),
      xml: await datasetXml(o.dataset, rawPath),
    }));
  }
}

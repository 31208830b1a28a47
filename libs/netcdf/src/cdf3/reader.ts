import { ByteSourceError, NetcdfFormatError, SelectionError } from '../errors';
import type { BufferLender } from '../io/buffer-pool';
import { copyBytes } from '../io/copy-bytes';
import { DEFAULT_MAX_READ_BYTES, type ByteSource } from '../io/byte-source';
import type { NetcdfDataset } from '../dataset';
import {
  allocateArray,
  TYPE_SIZE,
  viewArray,
  type NcArray,
  type NcFormat,
  type NcMetadata,
  type NcType,
} from '../model';
import { classifyVariables } from '../roles';
import {
  checkResultSize,
  DEFAULT_CHUNK_BYTES,
  elementCount,
  normalizeSelection,
  type Hyperslab,
  type HyperslabChunk,
  type ReadOptions,
} from '../selection';
import { gather, gatherToNative, SwapArena, swapToNative } from './byte-swap';
import { NeedMoreBytes, parseCdf3Header, type Cdf3Header, type Cdf3VariableLayout } from './header';

export { swapToNative };

export interface Cdf3OpenOptions {
  /** First header read (default 16 KiB); grows until the header parses. */
  initialHeaderBytes?: number;
  /** Refuse headers larger than this (default 32 MiB). */
  maxHeaderBytes?: number;
}

const FORMATS: Record<1 | 2 | 5, NcFormat> = { 1: 'classic', 2: '64bit-offset', 5: 'cdf5' };

/**
 * Block reads kept in flight ahead of the block being decoded: with two, the
 * next read is already queued when one completes (measured ~5% faster than one).
 */
const READS_AHEAD = 2;
/** Shortest run readRawChunks leaves in place when asked (`inPlace`): shorter ones are moved together. */
const IN_PLACE_MIN_RUN_BYTES = 64 * 1024;
/**
 * Reads the header of a NetCDF-3 file, growing the read until it parses,
 * so only header bytes are fetched.
 */
export async function readCdf3Header(source: ByteSource, options: Cdf3OpenOptions = {}): Promise<Cdf3Header> {
  const fileSize = await source.size();
  const maxHeader = options.maxHeaderBytes ?? 32 * 1024 * 1024;
  let bytes: Uint8Array<ArrayBufferLike> = await source.read(
    0,
    Math.min(fileSize, options.initialHeaderBytes ?? 16 * 1024, source.maxReadBytes),
  );
  for (;;) {
    try {
      return parseCdf3Header(bytes, fileSize, source.description);
    } catch (err) {
      if (!(err instanceof NeedMoreBytes)) throw err;
      if (err.needed > maxHeader)
        throw new NetcdfFormatError(
          'ABSURD_SIZE',
          `header would need more than ${maxHeader} bytes (reached ${err.needed})`,
          source.description,
          bytes.length,
        );
      const target = Math.min(fileSize, maxHeader, Math.max(err.needed, bytes.length * 4));
      const more = await readAll(source, bytes.length, target - bytes.length);
      const grown = new Uint8Array(target);
      grown.set(bytes);
      grown.set(more, bytes.length);
      bytes = grown;
    }
  }
}

async function readAll(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const n = Math.min(source.maxReadBytes || DEFAULT_MAX_READ_BYTES, length - done);
    out.set(await source.read(offset + done, n), done);
    done += n;
  }
  return out;
}

/** A file read planned as contiguous blocks, each covering a run of selected elements. */
interface Block {
  offset: number;
  length: number;
  /** First run (global index) in this block; -1 when the block is a piece of one long run. */
  firstRun: number;
  runs: number;
  /** Element index in the result of the block's first element. */
  outOffset: number;
  outElements: number;
}

interface Plan {
  elementSize: number;
  runBytes: number;
  /** Outer loops (counts and byte steps), outermost first. */
  outerCounts: number[];
  outerSteps: number[];
  innerCount: number;
  innerStep: number;
  base: number;
  totalRuns: number;
  totalElements: number;
  /** The variable's bytes held in memory (a small record variable's column): offsets are into it. */
  column?: Uint8Array;
}

/**
 * Record variables of at most this many bytes per record (time, time bounds, a date string)
 * are read whole once per opened file and kept: their values lie one per record, a record
 * apart, so each read of them costs one request per record or a sweep through the whole file
 * (measured: an NCSS answer of a 1,447-record file read its 320 MB twice over for `time`).
 */
const COLUMN_SLICE_BYTES = 64;
/** Largest such column kept (1 MiB: 131,072 doubles). */
const COLUMN_MAX_BYTES = 1 << 20;
/** Local record spans up to this size are read in one sweep to load a column, longer ones value by value in the read worker. */
const COLUMN_SWEEP_BYTES = 8 << 20;
/** Output bytes per worker job of readRawInto (a job is one message to the read worker). */
const RAW_INTO_JOB_BYTES = 4 << 20;

/** NetCDF-3 file: metadata from the header, hyperslabs by computed byte ranges. */
export class Netcdf3File implements NetcdfDataset {
  readonly metadata: NcMetadata;
  readonly description: string;
  private readonly byName = new Map<string, Cdf3VariableLayout>();
  /** Columns of small record variables (COLUMN_SLICE_BYTES), by name, loaded on first read. */
  private readonly columns = new Map<string, Promise<Uint8Array>>();

  private constructor(
    private readonly source: ByteSource,
    readonly header: Cdf3Header,
    private readonly ownsSource: boolean,
  ) {
    this.description = source.description;
    const dims = header.dimensions;
    const variables = header.variables.map((v) => ({
      name: v.name,
      type: v.type,
      dimensions: v.dimIds.map((id) => dims[id]?.name ?? ''),
      shape: v.dimIds.map((id) => dims[id]?.length ?? 0),
      attributes: v.attributes,
      record: v.record,
      role: 'data' as const,
    }));
    const roles = classifyVariables(variables);
    this.metadata = {
      format: FORMATS[header.version],
      dimensions: dims.map((d) => ({ ...d })),
      variables: variables.map((v) => ({ ...v, role: roles.get(v.name) ?? 'data' })),
      globalAttributes: header.globalAttributes,
      recordCount: header.numrecs,
      headerBytes: header.headerBytes,
    };
    for (const v of header.variables) this.byName.set(v.name, v);
  }

  /** Opens a NetCDF-3 file; `ownsSource` closes the source with the file. */
  static async open(
    source: ByteSource,
    options: Cdf3OpenOptions & { ownsSource?: boolean } = {},
  ): Promise<Netcdf3File> {
    const header = await readCdf3Header(source, options);
    return new Netcdf3File(source, header, options.ownsSource ?? false);
  }

  async close(): Promise<void> {
    if (this.ownsSource) await this.source.close();
  }

  private layout(variable: string): Cdf3VariableLayout {
    const v = this.byName.get(variable);
    if (!v) throw new SelectionError(variable, 'no such variable');
    return v;
  }

  private shapeOf(v: Cdf3VariableLayout): number[] {
    return v.dimIds.map((id) => this.header.dimensions[id]?.length ?? 0);
  }

  async read(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options: ReadOptions = {},
  ): Promise<NcArray> {
    const v = this.layout(variable);
    const slab = normalizeSelection(variable, this.shapeOf(v), start, count, stride);
    const n = checkResultSize(variable, slab, TYPE_SIZE[v.type], options.maxBytes);
    const out = allocateArray(v.type, n);
    // Each chunk is copied out before the next is read, so the arena's buffers can be lent.
    for await (const chunk of this.chunksOf(v, slab, { ...options, reuseBuffers: true })) {
      // Same element type on both sides; TS cannot relate the union members.
      (out as Float64Array).set(chunk.data as Float64Array, chunk.offset);
    }
    return out;
  }

  readChunks(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options: ReadOptions = {},
  ): AsyncIterableIterator<HyperslabChunk<NcArray>> {
    const v = this.layout(variable);
    const slab = normalizeSelection(variable, this.shapeOf(v), start, count, stride);
    return this.chunksOf(v, slab, options);
  }

  /**
   * The whole variable's bytes, record after record, when it is a small record variable
   * (see COLUMN_SLICE_BYTES); loaded once and shared by later reads of the opened file.
   */
  private columnOf(v: Cdf3VariableLayout): Promise<Uint8Array> | undefined {
    const records = this.header.numrecs;
    if (!v.record || v.sliceBytes === 0 || v.sliceBytes > COLUMN_SLICE_BYTES || records < 2) return undefined;
    if (records * v.sliceBytes > COLUMN_MAX_BYTES) return undefined;
    let loading = this.columns.get(v.name);
    if (!loading) {
      loading = this.loadColumn(v, records);
      this.columns.set(v.name, loading);
      // A failed load (I/O error) is not kept: the next read tries again.
      loading.catch(() => this.columns.delete(v.name));
    }
    return loading;
  }

  private async loadColumn(v: Cdf3VariableLayout, records: number): Promise<Uint8Array> {
    const step = this.header.recordBytes;
    const out = new Uint8Array(records * v.sliceBytes);
    const span = (records - 1) * step + v.sliceBytes;
    if (
      this.source.localPath !== undefined &&
      span <= Math.min(COLUMN_SWEEP_BYTES, this.source.maxReadBytes)
    ) {
      const all = await this.readBlock(
        { offset: v.begin, length: span, firstRun: 0, runs: 1, outOffset: 0, outElements: 0 },
        new Uint8Array(span),
      );
      for (let r = 0; r < records; r++)
        out.set(all.subarray(r * step, r * step + v.sliceBytes), r * v.sliceBytes);
      return out;
    }
    if (this.source.readRuns) {
      // One read-worker job for every record's value (an aggregation's cold plan reads 30 such columns).
      const ops: number[] = [];
      for (let r = 0; r < records; r++)
        ops.push(v.begin + r * step, v.sliceBytes, 1, 0, v.sliceBytes, v.sliceBytes, 1);
      const shared = new Uint8Array(new SharedArrayBuffer(out.length));
      try {
        await this.source.readRuns({ ops }, shared);
      } catch (err) {
        throw this.readError(err, v.begin);
      }
      copyBytes(out, shared);
      return out;
    }
    // Other sources (remote): as any read, through the gaps the source's hints allow (fewer, larger requests).
    const whole = normalizeSelection(v.name, this.shapeOf(v), undefined, undefined, undefined);
    const p = this.plan(v, whole);
    for await (const { block, bytes } of this.readBlocks(p, {}, { wasm: false, owned: true }))
      out.set(this.gatherInPlace(p, block, bytes), block.outOffset * p.elementSize);
    return out;
  }

  /**
   * The selection as loops of contiguous byte runs (collapsing contiguous inner dimensions);
   * with `column`, as offsets into the variable's bytes held in memory.
   */
  private plan(v: Cdf3VariableLayout, slab: Hyperslab, column?: Uint8Array): Plan {
    const shape = this.shapeOf(v);
    const e = TYPE_SIZE[v.type];
    const rank = shape.length;
    const fileStride = new Array<number>(rank).fill(e);
    for (let d = rank - 2; d >= 0; d--)
      fileStride[d] = (fileStride[d + 1] as number) * (shape[d + 1] as number);
    if (v.record && rank > 0 && !column) fileStride[0] = this.header.recordBytes;
    let base = column ? 0 : v.begin;
    for (let d = 0; d < rank; d++) base += (slab.start[d] as number) * (fileStride[d] as number);
    const counts = [...slab.count];
    const steps = counts.map((_, d) => (fileStride[d] as number) * (slab.stride[d] as number));
    // Merge innermost loops while they are contiguous with the run so far.
    let runBytes = e;
    while (counts.length > 0 && steps[steps.length - 1] === runBytes) {
      runBytes *= counts.pop() as number;
      steps.pop();
    }
    const innerCount = counts.length > 0 ? (counts.pop() as number) : 1;
    const innerStep = steps.length > 0 ? (steps.pop() as number) : runBytes;
    const totalRuns = elementCount(counts) * innerCount;
    return {
      elementSize: e,
      runBytes,
      outerCounts: counts,
      outerSteps: steps,
      innerCount,
      innerStep,
      base,
      totalRuns,
      totalElements: elementCount(slab.count),
      column,
    };
  }

  private rowBase(p: Plan, row: number): number {
    let off = p.base;
    for (let d = p.outerCounts.length - 1; d >= 0; d--) {
      const c = p.outerCounts[d] as number;
      off += (row % c) * (p.outerSteps[d] as number);
      row = Math.floor(row / c);
    }
    return off;
  }

  private *blocks(p: Plan, blockBytes: number, maxGap: number): Generator<Block> {
    if (p.totalElements === 0) return;
    const elemsPerRun = p.runBytes / p.elementSize;
    if (p.runBytes > blockBytes) {
      // Long contiguous runs: split each into element-aligned pieces.
      const piece = Math.max(p.elementSize, blockBytes - (blockBytes % p.elementSize));
      for (let j = 0; j < p.totalRuns; j++) {
        const row = Math.floor(j / p.innerCount);
        const runOffset = this.rowBase(p, row) + (j - row * p.innerCount) * p.innerStep;
        for (let done = 0; done < p.runBytes; done += piece) {
          const length = Math.min(piece, p.runBytes - done);
          yield {
            offset: runOffset + done,
            length,
            firstRun: -1,
            runs: 0,
            outOffset: j * elemsPerRun + done / p.elementSize,
            outElements: length / p.elementSize,
          };
        }
      }
      return;
    }
    const gap = p.innerStep - p.runBytes;
    let j = 0;
    while (j < p.totalRuns) {
      let row = Math.floor(j / p.innerCount);
      let k = j - row * p.innerCount;
      let rowStart = this.rowBase(p, row);
      const blockStart = rowStart + k * p.innerStep;
      const firstRun = j;
      let blockEnd = blockStart;
      for (;;) {
        const off = rowStart + k * p.innerStep;
        if (j > firstRun && (off - blockEnd > maxGap || off + p.runBytes - blockStart > blockBytes)) break;
        let m = 1;
        if (gap <= maxGap)
          m = Math.min(
            p.innerCount - k,
            Math.floor((blockBytes - p.runBytes - (off - blockStart)) / p.innerStep) + 1,
          );
        m = Math.max(1, m);
        blockEnd = off + (m - 1) * p.innerStep + p.runBytes;
        j += m;
        k += m;
        if (j >= p.totalRuns) break;
        if (k >= p.innerCount) {
          row++;
          k = 0;
          rowStart = this.rowBase(p, row);
        } else if (gap > maxGap) {
          break;
        }
      }
      const runs = j - firstRun;
      yield {
        offset: blockStart,
        length: blockEnd - blockStart,
        firstRun,
        runs,
        outOffset: firstRun * elemsPerRun,
        outElements: runs * elemsPerRun,
      };
    }
  }

  private async *chunksOf(
    v: Cdf3VariableLayout,
    slab: Hyperslab,
    options: ReadOptions,
  ): AsyncGenerator<HyperslabChunk<NcArray>> {
    const p = this.plan(v, slab, await this.columnOf(v));
    // Bytes (element size 1) need no swapping, so no WebAssembly.
    for await (const { block, bytes } of this.readBlocks(p, options, {
      wasm: p.elementSize > 1,
      owned: false,
    })) {
      const data = this.decodeInPlace(v.type, p, block, bytes);
      // Arena bytes are overwritten by later reads: a caller that keeps chunks gets its own copy.
      yield { offset: block.outOffset, data: options.reuseBuffers ? data : data.slice() };
    }
  }

  /**
   * Streams a hyperslab as the file stores it: each chunk is the selected
   * elements' bytes back to back, big-endian (XDR order), not swapped. A
   * contiguous block is handed out as read; strided runs are gathered in
   * place. Without `reuseBuffers` each chunk is memory of its own, read into
   * directly (no copy), so it can be handed to a socket and left there; with
   * `buffers` it is a lent buffer, read into directly, that the consumer
   * gives back once written.
   * `offset` counts elements, as in readChunks.
   */
  readRawChunks(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options: ReadOptions = {},
  ): AsyncIterableIterator<HyperslabChunk<Uint8Array>> {
    const v = this.layout(variable);
    const slab = normalizeSelection(variable, this.shapeOf(v), start, count, stride);
    return this.rawChunksOf(v, slab, options);
  }

  private async *rawChunksOf(
    v: Cdf3VariableLayout,
    slab: Hyperslab,
    options: ReadOptions,
  ): AsyncGenerator<HyperslabChunk<Uint8Array>> {
    const p = this.plan(v, slab, await this.columnOf(v));
    const lender = options.buffers;
    if (lender?.shared && this.source.readRuns && !p.column && !options.inPlace) {
      yield* this.groupedRawChunks(p, options, lender);
      return;
    }
    const owned = !options.reuseBuffers;
    for await (const { block, bytes } of this.readBlocks(p, options, {
      wasm: false,
      owned,
      lender: options.buffers,
    })) {
      const runs = options.inPlace ? this.runsInPlace(p, block, bytes) : undefined;
      yield runs
        ? { offset: block.outOffset, data: bytes, runs }
        : { offset: block.outOffset, data: this.gatherInPlace(p, block, bytes) };
    }
  }

  /** See NetcdfDataset.readRawInto: worker jobs of up to RAW_INTO_JOB_BYTES each, written in place. */
  async readRawInto(
    variable: string,
    start: readonly number[],
    count: readonly number[],
    stride: readonly number[],
    target: Uint8Array,
    options: ReadOptions = {},
  ): Promise<boolean> {
    const v = this.layout(variable);
    const slab = normalizeSelection(variable, this.shapeOf(v), start, count, stride);
    const e = TYPE_SIZE[v.type];
    if (!this.source.readRuns || !(target.buffer instanceof SharedArrayBuffer)) return false;
    if (elementCount(slab.count) * e !== target.length)
      throw new SelectionError(
        variable,
        `target of ${target.length} bytes for a selection of ${elementCount(slab.count) * e}`,
      );
    if (this.columnOf(v)) return false;
    const p = this.plan(v, slab);
    if (p.totalElements === 0) return true;
    const blockBytes = Math.max(
      e,
      Math.min(this.source.readHints?.blockBytes ?? DEFAULT_CHUNK_BYTES, this.source.maxReadBytes),
    );
    const blocks = this.blocks(
      p,
      blockBytes,
      options.maxGapBytes ?? this.source.readHints?.maxGapBytes ?? 64 * 1024,
    );
    let ops: number[] = [];
    let from = 0;
    let at = 0;
    const jobs: Promise<void>[] = [];
    const send = () => {
      const job = this.source.readRuns!({ ops }, target.subarray(from, at));
      job.catch(() => undefined);
      jobs.push(job);
      ops = [];
      from = at;
    };
    for (const b of blocks) {
      this.segmentsOf(p, b, ops);
      at += b.outElements * e;
      if (at - from >= RAW_INTO_JOB_BYTES) send();
    }
    if (at > from) send();
    try {
      await Promise.all(jobs);
    } catch (err) {
      throw this.readError(err, p.base);
    }
    return true;
  }

  /**
   * readRawChunks through the source's `readRuns` (a local file's read worker):
   * consecutive blocks whose selected bytes fill one lent buffer are read in
   * one job, which copies their runs there back to back, so a selection of
   * many short blocks (a box of a record variable: one block per record) costs
   * a job per buffer rather than a read per block. READS_AHEAD jobs in flight.
   */
  private async *groupedRawChunks(
    p: Plan,
    options: ReadOptions,
    lender: BufferLender,
  ): AsyncGenerator<HyperslabChunk<Uint8Array>> {
    if (p.totalElements === 0) return;
    const source = this.source as Required<Pick<ByteSource, 'readRuns'>> & ByteSource;
    const room = lender.bufferBytes;
    const blockBytes = Math.max(p.elementSize, Math.min(room, this.source.maxReadBytes));
    const blocks = this.blocks(
      p,
      blockBytes,
      options.maxGapBytes ?? this.source.readHints?.maxGapBytes ?? 64 * 1024,
    );
    let carry: Block | undefined;
    const nextGroup = () => {
      const ops: number[] = [];
      let bytes = 0;
      let outOffset = 0;
      for (;;) {
        let b = carry;
        carry = undefined;
        if (!b) {
          const n = blocks.next();
          if (n.done) break;
          b = n.value;
        }
        const out = b.outElements * p.elementSize;
        if (bytes > 0 && bytes + out > room) {
          carry = b;
          break;
        }
        if (bytes === 0) outOffset = b.outOffset;
        this.segmentsOf(p, b, ops);
        bytes += out;
      }
      return bytes > 0 ? { outOffset, bytes, ops } : undefined;
    };
    const inFlight: { outOffset: number; data: Promise<Uint8Array> }[] = [];
    const readNext = (): void => {
      const group = nextGroup();
      if (!group) return;
      const data = lender.acquire().then(async (buffer) => {
        const target = new Uint8Array(buffer.buffer, buffer.byteOffset, group.bytes);
        try {
          await source.readRuns({ ops: group.ops }, target);
        } catch (err) {
          lender.release(target);
          throw this.readError(err, group.ops[0] as number);
        }
        return target;
      });
      data.catch(() => undefined); // awaited later; no unhandled rejection if the caller stops first
      inFlight.push({ outOffset: group.outOffset, data });
    };
    try {
      for (let i = 0; i < READS_AHEAD; i++) readNext();
      for (let current = inFlight.shift(); current; current = inFlight.shift()) {
        const data = await current.data;
        readNext();
        yield { offset: current.outOffset, data };
      }
    } finally {
      // Buffers of jobs nobody will look at go back to the lender.
      for (const r of inFlight)
        r.data.then(
          (bytes) => lender.release(bytes),
          () => undefined,
        );
    }
  }

  /**
   * Appends block `b` to a read job's ops (see RunsJob): its range, then its
   * selected runs as segments of equally spaced runs (what gatherInPlace moves).
   */
  private segmentsOf(p: Plan, b: Block, ops: number[]): void {
    const length = b.outElements * p.elementSize;
    if (b.runs <= 1 && b.length === length) {
      ops.push(b.offset, b.length, 1, 0, b.length, b.length, 1);
      return;
    }
    const at = ops.length;
    ops.push(b.offset, b.length, 0);
    let row = Math.floor(b.firstRun / p.innerCount);
    let k = b.firstRun - row * p.innerCount;
    for (let left = b.runs; left > 0; row++, k = 0) {
      const runs = Math.min(p.innerCount - k, left);
      ops.push(this.rowBase(p, row) - b.offset + k * p.innerStep, p.runBytes, p.innerStep, runs);
      ops[at + 2] = (ops[at + 2] as number) + 1;
      left -= runs;
    }
  }

  /**
   * The planned blocks of a selection, read READS_AHEAD ahead. With a
   * `lender` each block is read into a buffer borrowed from it (the caller
   * gives it back); with `owned` into memory of its own; otherwise into an
   * arena whose buffers are reused: a block's bytes stay valid until the
   * next is asked for.
   */
  private async *readBlocks(
    p: Plan,
    options: ReadOptions,
    memory: { wasm: boolean; owned: boolean; lender?: BufferLender },
  ): AsyncGenerator<{ block: Block; bytes: Uint8Array }> {
    if (p.totalElements === 0) return;
    const hints = this.source.readHints;
    const lender = memory.lender;
    const wanted = lender
      ? lender.bufferBytes
      : (options.chunkBytes ?? hints?.blockBytes ?? DEFAULT_CHUNK_BYTES);
    const blockBytes = Math.max(p.elementSize, Math.min(wanted, this.source.maxReadBytes));
    const blocks = this.blocks(p, blockBytes, options.maxGapBytes ?? hints?.maxGapBytes ?? 64 * 1024);
    // Buffers for the reads in flight plus the block the caller is looking at;
    // no block is longer than either bound.
    const arena =
      memory.owned || lender
        ? undefined
        : new SwapArena(READS_AHEAD + 1, Math.min(blockBytes, this.spanBytes(p)), { wasm: memory.wasm });
    const inFlight: { block: Block; bytes: Promise<Uint8Array> }[] = [];
    let turn = 0;
    const readNext = (): void => {
      const next = blocks.next();
      if (next.done) return;
      const block = next.value;
      let bytes: Promise<Uint8Array>;
      if (lender)
        bytes = lender
          .acquire()
          .then((buffer) =>
            this.readBlock(block, new Uint8Array(buffer.buffer, buffer.byteOffset, block.length), p.column),
          );
      else
        bytes = this.readBlock(
          block,
          arena
            ? (arena.buffers[turn++ % arena.buffers.length] as Uint8Array).subarray(0, block.length)
            : // Its own ArrayBuffer (not Buffer's shared pool), uninitialised: the read fills it.
              new Uint8Array(Buffer.allocUnsafeSlow(block.length).buffer, 0, block.length),
          p.column,
        );
      bytes.catch(() => undefined); // awaited later; no unhandled rejection if the caller stops first
      inFlight.push({ block, bytes });
    };
    try {
      for (let i = 0; i < READS_AHEAD; i++) readNext();
      for (let current = inFlight.shift(); current; current = inFlight.shift()) {
        const bytes = await current.bytes;
        readNext();
        yield { block: current.block, bytes };
      }
    } finally {
      // A caller that stops early leaves reads in flight into the arena: reuse it once they are done.
      if (arena) void Promise.allSettled(inFlight.map((r) => r.bytes)).then(() => arena.release());
      // Borrowed buffers of reads nobody will look at go back to the lender.
      if (lender)
        for (const r of inFlight)
          r.bytes.then(
            (bytes) => lender.release(bytes),
            () => undefined,
          );
    }
  }

  /** Bytes from the selection's first to its last byte in the file. */
  private spanBytes(p: Plan): number {
    const lastRow = p.totalRuns / p.innerCount - 1;
    return this.rowBase(p, lastRow) + (p.innerCount - 1) * p.innerStep + p.runBytes - p.base;
  }

  private async readBlock(b: Block, target: Uint8Array, column?: Uint8Array): Promise<Uint8Array> {
    if (column) {
      copyBytes(target, column.subarray(b.offset, b.offset + b.length));
      return target;
    }
    try {
      if (this.source.readInto) await this.source.readInto(target, b.offset);
      else target.set(await this.source.read(b.offset, b.length));
      return target;
    } catch (err) {
      throw this.readError(err, b.offset, b.offset + b.length);
    }
  }

  /** A source's error as the reader reports it: running past the end is a truncated file. */
  private readError(err: unknown, offset: number, end?: number): unknown {
    if (err instanceof ByteSourceError && err.code === 'OUT_OF_RANGE')
      return new NetcdfFormatError(
        'TRUNCATED',
        end === undefined
          ? `data ends before a block read from byte ${offset}`
          : `data ends before byte ${end}`,
        this.description,
        err.offset ?? offset,
      );
    return err;
  }

  /**
   * Views of the block's selected runs where they lie, when they are apart
   * and each is long enough that a consumer writing them one by one saves the
   * move (a socket takes up to 1024 of them in one vectored write). Undefined
   * for a contiguous block, or runs so short that moving them is cheaper.
   */
  private runsInPlace(p: Plan, b: Block, bytes: Uint8Array): Uint8Array[] | undefined {
    if ((b.runs <= 1 && b.length === b.outElements * p.elementSize) || p.runBytes < IN_PLACE_MIN_RUN_BYTES)
      return undefined;
    const out: Uint8Array[] = [];
    let row = Math.floor(b.firstRun / p.innerCount);
    let k = b.firstRun - row * p.innerCount;
    for (let left = b.runs; left > 0; row++, k = 0) {
      const runs = Math.min(p.innerCount - k, left);
      const src = this.rowBase(p, row) - b.offset + k * p.innerStep;
      for (let r = 0; r < runs; r++) {
        const at = src + r * p.innerStep;
        out.push(bytes.subarray(at, at + p.runBytes));
      }
      left -= runs;
    }
    return out;
  }

  /** The block's selected bytes back to back from its start, in file byte order (a forward move in place). */
  private gatherInPlace(p: Plan, b: Block, bytes: Uint8Array): Uint8Array {
    const length = b.outElements * p.elementSize;
    if (b.runs > 1 || b.length !== length) {
      let row = Math.floor(b.firstRun / p.innerCount);
      let k = b.firstRun - row * p.innerCount;
      let dst = 0;
      for (let left = b.runs; left > 0; row++, k = 0) {
        const runs = Math.min(p.innerCount - k, left);
        const src = this.rowBase(p, row) - b.offset + k * p.innerStep;
        gather(bytes, dst, src, p.runBytes, p.innerStep, runs);
        dst += runs * p.runBytes;
        left -= runs;
      }
    }
    return bytes.subarray(0, length);
  }

  /**
   * Gathers the block's runs to its start (runs ascend, so this is a forward
   * move), swapping them to host byte order on the way, and views the result:
   * no extra copy.
   */
  private decodeInPlace(type: Exclude<NcType, 'string'>, p: Plan, b: Block, bytes: Uint8Array): NcArray {
    const e = p.elementSize;
    if (b.runs <= 1 && b.length === b.outElements * e) {
      swapToNative(bytes, e);
    } else {
      let row = Math.floor(b.firstRun / p.innerCount);
      let k = b.firstRun - row * p.innerCount;
      let dst = 0;
      for (let left = b.runs; left > 0; row++, k = 0) {
        const runs = Math.min(p.innerCount - k, left);
        const src = this.rowBase(p, row) - b.offset + k * p.innerStep;
        gatherToNative(bytes, dst, src, p.runBytes, p.innerStep, runs, e);
        dst += runs * p.runBytes;
        left -= runs;
      }
    }
    return viewArray(type, bytes.buffer as ArrayBuffer, bytes.byteOffset, b.outElements);
  }
}

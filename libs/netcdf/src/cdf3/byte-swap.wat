;; Big-endian <-> little-endian conversion of 2-, 4- and 8-byte elements in
;; this module's memory. byte-swap.ts gives out views into `memory` and calls:
;;
;;   swapNN(ptr, len)                        swaps the elements of [ptr, ptr+len) in place
;;   gatherNN(dst, src, run, step, count)    moves `count` runs of `run` bytes, `step` apart
;;                                           from src, back to back to dst, swapping them
;;                                           on the way (one pass over the bytes instead of a
;;                                           move and then a swap); dst <= src
;;
;; len and run are multiples of the element size (bytes of a trailing partial
;; element are left alone). $moveNN does the work: 64 bytes per iteration as
;; four independent 16-byte shuffles, then 16-byte steps, then single elements.
;; It reads each 16 bytes before writing them, and dst <= src, so a forward
;; move in place never overwrites bytes it has yet to read.
;;
;; Compiled into byte-swap.wasm.ts by `npm run build:wasm`.
(module
  (memory (export "memory") 1)

  (func $move16 (param $d i32) (param $s i32) (param $n i32)
    (local $end i32) (local $x i32)
    (local.set $end (i32.add (local.get $s) (local.get $n)))
    (block $done64
      (loop $l64
        (br_if $done64 (i32.gt_u (i32.add (local.get $s) (i32.const 64)) (local.get $end)))
        (v128.store offset=0 (local.get $d)
          (i8x16.shuffle 1 0 3 2 5 4 7 6 9 8 11 10 13 12 15 14 (v128.load offset=0 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=16 (local.get $d)
          (i8x16.shuffle 1 0 3 2 5 4 7 6 9 8 11 10 13 12 15 14 (v128.load offset=16 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=32 (local.get $d)
          (i8x16.shuffle 1 0 3 2 5 4 7 6 9 8 11 10 13 12 15 14 (v128.load offset=32 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=48 (local.get $d)
          (i8x16.shuffle 1 0 3 2 5 4 7 6 9 8 11 10 13 12 15 14 (v128.load offset=48 (local.get $s)) (v128.const i64x2 0 0)))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (local.set $s (i32.add (local.get $s) (i32.const 64)))
        (br $l64)))
    (block $done16
      (loop $l16
        (br_if $done16 (i32.gt_u (i32.add (local.get $s) (i32.const 16)) (local.get $end)))
        (v128.store offset=0 (local.get $d)
          (i8x16.shuffle 1 0 3 2 5 4 7 6 9 8 11 10 13 12 15 14 (v128.load offset=0 (local.get $s)) (v128.const i64x2 0 0)))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br $l16)))
    (block $done
      (loop $l
        (br_if $done (i32.gt_u (i32.add (local.get $s) (i32.const 2)) (local.get $end)))
        (local.set $x (i32.load16_u (local.get $s)))
        (i32.store16 (local.get $d)
          (i32.or (i32.shl (local.get $x) (i32.const 8)) (i32.shr_u (local.get $x) (i32.const 8))))
        (local.set $d (i32.add (local.get $d) (i32.const 2)))
        (local.set $s (i32.add (local.get $s) (i32.const 2)))
        (br $l))))

  (func (export "swap16") (param $p i32) (param $n i32)
    (call $move16 (local.get $p) (local.get $p) (local.get $n)))

  (func (export "gather16") (param $dst i32) (param $src i32) (param $run i32) (param $step i32) (param $count i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $count)))
        (call $move16 (local.get $dst) (local.get $src) (local.get $run))
        (local.set $dst (i32.add (local.get $dst) (local.get $run)))
        (local.set $src (i32.add (local.get $src) (local.get $step)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $l))))

  (func $move32 (param $d i32) (param $s i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $s) (local.get $n)))
    (block $done64
      (loop $l64
        (br_if $done64 (i32.gt_u (i32.add (local.get $s) (i32.const 64)) (local.get $end)))
        (v128.store offset=0 (local.get $d)
          (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (v128.load offset=0 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=16 (local.get $d)
          (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (v128.load offset=16 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=32 (local.get $d)
          (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (v128.load offset=32 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=48 (local.get $d)
          (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (v128.load offset=48 (local.get $s)) (v128.const i64x2 0 0)))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (local.set $s (i32.add (local.get $s) (i32.const 64)))
        (br $l64)))
    (block $done16
      (loop $l16
        (br_if $done16 (i32.gt_u (i32.add (local.get $s) (i32.const 16)) (local.get $end)))
        (v128.store offset=0 (local.get $d)
          (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (v128.load offset=0 (local.get $s)) (v128.const i64x2 0 0)))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br $l16)))
    (block $done
      (loop $l
        (br_if $done (i32.gt_u (i32.add (local.get $s) (i32.const 4)) (local.get $end)))
        (i32.store (local.get $d) (call $bswap32 (i32.load (local.get $s))))
        (local.set $d (i32.add (local.get $d) (i32.const 4)))
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (br $l))))

  (func (export "swap32") (param $p i32) (param $n i32)
    (call $move32 (local.get $p) (local.get $p) (local.get $n)))

  (func (export "gather32") (param $dst i32) (param $src i32) (param $run i32) (param $step i32) (param $count i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $count)))
        (call $move32 (local.get $dst) (local.get $src) (local.get $run))
        (local.set $dst (i32.add (local.get $dst) (local.get $run)))
        (local.set $src (i32.add (local.get $src) (local.get $step)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $l))))

  (func $move64 (param $d i32) (param $s i32) (param $n i32)
    (local $end i32) (local $x i32)
    (local.set $end (i32.add (local.get $s) (local.get $n)))
    (block $done64
      (loop $l64
        (br_if $done64 (i32.gt_u (i32.add (local.get $s) (i32.const 64)) (local.get $end)))
        (v128.store offset=0 (local.get $d)
          (i8x16.shuffle 7 6 5 4 3 2 1 0 15 14 13 12 11 10 9 8 (v128.load offset=0 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=16 (local.get $d)
          (i8x16.shuffle 7 6 5 4 3 2 1 0 15 14 13 12 11 10 9 8 (v128.load offset=16 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=32 (local.get $d)
          (i8x16.shuffle 7 6 5 4 3 2 1 0 15 14 13 12 11 10 9 8 (v128.load offset=32 (local.get $s)) (v128.const i64x2 0 0)))
        (v128.store offset=48 (local.get $d)
          (i8x16.shuffle 7 6 5 4 3 2 1 0 15 14 13 12 11 10 9 8 (v128.load offset=48 (local.get $s)) (v128.const i64x2 0 0)))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (local.set $s (i32.add (local.get $s) (i32.const 64)))
        (br $l64)))
    (block $done16
      (loop $l16
        (br_if $done16 (i32.gt_u (i32.add (local.get $s) (i32.const 16)) (local.get $end)))
        (v128.store offset=0 (local.get $d)
          (i8x16.shuffle 7 6 5 4 3 2 1 0 15 14 13 12 11 10 9 8 (v128.load offset=0 (local.get $s)) (v128.const i64x2 0 0)))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br $l16)))
    (block $done
      (loop $l
        (br_if $done (i32.gt_u (i32.add (local.get $s) (i32.const 8)) (local.get $end)))
        ;; The two 4-byte halves swapped and exchanged (the low one read first: d may be s).
        (local.set $x (i32.load (local.get $s)))
        (i32.store (local.get $d) (call $bswap32 (i32.load offset=4 (local.get $s))))
        (i32.store offset=4 (local.get $d) (call $bswap32 (local.get $x)))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (br $l))))

  (func (export "swap64") (param $p i32) (param $n i32)
    (call $move64 (local.get $p) (local.get $p) (local.get $n)))

  (func (export "gather64") (param $dst i32) (param $src i32) (param $run i32) (param $step i32) (param $count i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $count)))
        (call $move64 (local.get $dst) (local.get $src) (local.get $run))
        (local.set $dst (i32.add (local.get $dst) (local.get $run)))
        (local.set $src (i32.add (local.get $src) (local.get $step)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $l))))

  (func $bswap32 (param $x i32) (result i32)
    (i32.or
      (i32.and (i32.rotl (local.get $x) (i32.const 8)) (i32.const 0x00ff00ff))
      (i32.and (i32.rotr (local.get $x) (i32.const 8)) (i32.const 0xff00ff00))))
)

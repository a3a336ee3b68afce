;; greeter: a source agent with an env grant. Ignores stdin ({}), reads GREETING from its
;; environment (the only variable it is granted) and writes {"greeting": "<GREETING>, world"}.
;; Without GREETING it greets with "Hello". Quotes and backslashes in the value are escaped,
;; control bytes dropped, so the output stays one JSON object.
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)

  ;; 0..16 iovec scratch; 16..24 environ sizes; 32..: texts; 4096..: environ pointers;
  ;; 8192..: environ strings (up to 24 KiB); 65536..: output
  (data (i32.const 32) "{\"greeting\":\"")        ;; 13 bytes at 32
  (data (i32.const 48) ", world\"}\n")            ;; 10 bytes at 48
  (data (i32.const 64) "GREETING=")               ;; 9 bytes at 64
  (data (i32.const 80) "Hello")                   ;; 5 bytes at 80
  (data (i32.const 96) "greeter: environment too large\n")  ;; 31 bytes at 96

  (func $write_all (param $fd i32) (param $ptr i32) (param $len i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (if (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 2))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.load (i32.const 8))))
        (local.set $len (i32.sub (local.get $len) (i32.load (i32.const 8))))
        (br $more))))

  ;; does the NUL-terminated string at $s start with "GREETING="?
  (func $is_greeting (param $s i32) (result i32)
    (local $i i32)
    (block $no
      (loop $cmp
        (if (i32.eq (local.get $i) (i32.const 9)) (then (return (i32.const 1))))
        (br_if $no (i32.ne (i32.load8_u (i32.add (local.get $s) (local.get $i)))
                           (i32.load8_u (i32.add (i32.const 64) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (i32.const 0))

  ;; copies the NUL-terminated value at $s to $o JSON-escaped; returns the new end
  (func $escape (param $s i32) (param $o i32) (result i32)
    (local $c i32)
    (block $end
      (loop $copy
        (local.set $c (i32.load8_u (local.get $s)))
        (br_if $end (i32.eqz (local.get $c)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 34)) (i32.eq (local.get $c) (i32.const 92)))
          (then
            (i32.store8 (local.get $o) (i32.const 92))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))))
        (if (i32.ge_u (local.get $c) (i32.const 32))
          (then
            (i32.store8 (local.get $o) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $copy)))
    (local.get $o))

  (func (export "_start")
    (local $count i32) (local $i i32) (local $entry i32) (local $o i32)
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $count (i32.load (i32.const 16)))
    (if (i32.or (i32.gt_u (local.get $count) (i32.const 1000))
                (i32.gt_u (i32.load (i32.const 20)) (i32.const 24576)))
      (then
        (call $write_all (i32.const 2) (i32.const 96) (i32.const 31))
        (call $proc_exit (i32.const 1))))
    (drop (call $environ_get (i32.const 4096) (i32.const 8192)))
    (local.set $o (i32.const 65536))
    (block $found
      (loop $next
        (br_if $found (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $entry (i32.load (i32.add (i32.const 4096) (i32.shl (local.get $i) (i32.const 2)))))
        (if (call $is_greeting (local.get $entry))
          (then
            (local.set $o (call $escape (i32.add (local.get $entry) (i32.const 9)) (local.get $o)))
            (br $found)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.eq (local.get $o) (i32.const 65536))  ;; unset or empty: the default
      (then
        (memory.copy (i32.const 65536) (i32.const 80) (i32.const 5))
        (local.set $o (i32.const 65541))))
    (call $write_all (i32.const 1) (i32.const 32) (i32.const 13))
    (call $write_all (i32.const 1) (i32.const 65536) (i32.sub (local.get $o) (i32.const 65536)))
    (call $write_all (i32.const 1) (i32.const 48) (i32.const 10))))

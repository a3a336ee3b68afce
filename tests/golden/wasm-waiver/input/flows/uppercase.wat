;; uppercase: the agent ABI by hand. stdin {"text": "..."} -> stdout {"upper": "..."}.
;; The host sends ASCII-only JSON (non-ASCII as \uXXXX escapes), so uppercasing a-z inside the
;; string value, while copying escape sequences untouched, keeps the JSON valid.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 8)

  ;; 0..16 iovec scratch; 16..: constant texts; 65536..: input (192 KiB); 262144..: output
  (global $IN i32 (i32.const 65536))
  (global $IN_MAX i32 (i32.const 196608))
  (global $OUT i32 (i32.const 262144))
  (data (i32.const 16) "{\"upper\":\"")           ;; 10 bytes at 16
  (data (i32.const 32) "\"}\n")                   ;; 3 bytes at 32
  (data (i32.const 48) "uppercase: expected {\"text\": \"...\"} on stdin\n")  ;; 45 bytes
  (data (i32.const 112) "uppercase: input too large\n")                      ;; 27 bytes
  (data (i32.const 144) "uppercase: cannot read stdin\n")                    ;; 29 bytes

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

  (func $fail (param $ptr i32) (param $len i32)
    (call $write_all (i32.const 2) (local.get $ptr) (local.get $len))
    (call $proc_exit (i32.const 1)))

  ;; reads all of stdin to $IN, returns its length
  (func $read_all (result i32)
    (local $len i32)
    (block $eof
      (loop $more
        (if (i32.ge_u (local.get $len) (global.get $IN_MAX))
          (then (call $fail (i32.const 112) (i32.const 27))))
        (i32.store (i32.const 0) (i32.add (global.get $IN) (local.get $len)))
        (i32.store (i32.const 4) (i32.sub (global.get $IN_MAX) (local.get $len)))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $fail (i32.const 144) (i32.const 29))))
        (br_if $eof (i32.eqz (i32.load (i32.const 8))))
        (local.set $len (i32.add (local.get $len) (i32.load (i32.const 8))))
        (br $more)))
    (local.get $len))

  ;; index of the first byte after the opening quote of the first value, or fail
  (func $value_start (param $end i32) (result i32)
    (local $i i32)
    (local.set $i (global.get $IN))
    (block $found
      (loop $scan
        (if (i32.ge_u (local.get $i) (local.get $end))
          (then (call $fail (i32.const 48) (i32.const 45))))
        (br_if $found (i32.eq (i32.load8_u (local.get $i)) (i32.const 58)))  ;; ':'
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (block $quote
      (loop $scan
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.ge_u (local.get $i) (local.get $end))
          (then (call $fail (i32.const 48) (i32.const 45))))
        (br_if $quote (i32.eq (i32.load8_u (local.get $i)) (i32.const 34)))  ;; '"'
        (br $scan)))
    (i32.add (local.get $i) (i32.const 1)))

  (func (export "_start")
    (local $end i32) (local $i i32) (local $o i32) (local $c i32)
    (local.set $end (i32.add (global.get $IN) (call $read_all)))
    (local.set $i (call $value_start (local.get $end)))
    (local.set $o (global.get $OUT))
    (block $closed
      (loop $copy
        (if (i32.ge_u (local.get $i) (local.get $end))
          (then (call $fail (i32.const 48) (i32.const 45))))
        (local.set $c (i32.load8_u (local.get $i)))
        (br_if $closed (i32.eq (local.get $c) (i32.const 34)))
        (if (i32.eq (local.get $c) (i32.const 92))  ;; backslash: copy it and the next byte as-is
          (then
            (i32.store8 (local.get $o) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (if (i32.ge_u (local.get $i) (local.get $end))
              (then (call $fail (i32.const 48) (i32.const 45))))
            (local.set $c (i32.load8_u (local.get $i))))
          (else
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 97))
                         (i32.le_u (local.get $c) (i32.const 122)))
              (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))))
        (i32.store8 (local.get $o) (local.get $c))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (call $write_all (i32.const 1) (i32.const 16) (i32.const 10))
    (call $write_all (i32.const 1) (global.get $OUT) (i32.sub (local.get $o) (global.get $OUT)))
    (call $write_all (i32.const 1) (i32.const 32) (i32.const 3))))

;; wordcount: stdin {"text": "..."} -> stdout {"words": N}. Words are runs of bytes between
;; whitespace; inside the JSON string, the escapes \n \t \r count as whitespace too.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 5)

  ;; 0..16 iovec scratch; 16..: constant texts; 256..: number digits; 65536..: input (192 KiB)
  (global $IN i32 (i32.const 65536))
  (global $IN_MAX i32 (i32.const 196608))
  (data (i32.const 16) "{\"words\":")             ;; 9 bytes at 16
  (data (i32.const 32) "}\n")                     ;; 2 bytes at 32
  (data (i32.const 48) "wordcount: expected {\"text\": \"...\"} on stdin\n")  ;; 45 bytes
  (data (i32.const 112) "wordcount: input too large\n")                      ;; 27 bytes
  (data (i32.const 144) "wordcount: cannot read stdin\n")                    ;; 29 bytes

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

  ;; writes $n in decimal to stdout
  (func $write_u32 (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 280))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $write_all (i32.const 1) (local.get $p) (i32.sub (i32.const 280) (local.get $p))))

  (func (export "_start")
    (local $end i32) (local $i i32) (local $c i32) (local $space i32) (local $in_word i32)
    (local $words i32)
    (local.set $end (i32.add (global.get $IN) (call $read_all)))
    (local.set $i (call $value_start (local.get $end)))
    (block $closed
      (loop $scan
        (if (i32.ge_u (local.get $i) (local.get $end))
          (then (call $fail (i32.const 48) (i32.const 45))))
        (local.set $c (i32.load8_u (local.get $i)))
        (br_if $closed (i32.eq (local.get $c) (i32.const 34)))
        (local.set $space (i32.or (i32.eq (local.get $c) (i32.const 32))
                                  (i32.eq (local.get $c) (i32.const 9))))
        (if (i32.eq (local.get $c) (i32.const 92))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (if (i32.ge_u (local.get $i) (local.get $end))
              (then (call $fail (i32.const 48) (i32.const 45))))
            (local.set $c (i32.load8_u (local.get $i)))
            (local.set $space (i32.or (i32.eq (local.get $c) (i32.const 110))      ;; \n
                                      (i32.or (i32.eq (local.get $c) (i32.const 116))  ;; \t
                                              (i32.eq (local.get $c) (i32.const 114)))))))  ;; \r
        (if (local.get $space)
          (then (local.set $in_word (i32.const 0)))
          (else
            (if (i32.eqz (local.get $in_word))
              (then (local.set $words (i32.add (local.get $words) (i32.const 1)))))
            (local.set $in_word (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (call $write_all (i32.const 1) (i32.const 16) (i32.const 9))
    (call $write_u32 (local.get $words))
    (call $write_all (i32.const 1) (i32.const 32) (i32.const 2))))

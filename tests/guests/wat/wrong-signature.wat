;; Exports all four processor functions of the right version, but with the wrong types:
;; refused with the function's name and the type checker's message.
(component
  (core module $m
    (func (export "f") (result i32) i32.const 0)
  )
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (instance $p
    (export "describe" (func $f))
    (export "map-batch" (func $f))
    (export "reduce-batch" (func $f))
    (export "finish-batch" (func $f))
  )
  (export "weir:processor/processor@0.1.0" (instance $p))
)

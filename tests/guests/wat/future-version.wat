;; A component built for a Weir world version this runtime does not implement.
(component
  (core module $m
    (func (export "describe") (result i32) i32.const 0)
  )
  (core instance $i (instantiate $m))
  (func $describe (result u32) (canon lift (core func $i "describe")))
  (instance $p (export "describe" (func $describe)))
  (export "weir:processor/processor@9.0.0" (instance $p))
)

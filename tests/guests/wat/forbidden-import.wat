;; A component that imports an outgoing HTTP handler: a network capability Weir never grants.
(component
  (import "wasi:http/outgoing-handler@0.2.0" (instance
    (export "handle" (func))
  ))
)

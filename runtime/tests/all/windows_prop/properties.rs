//! The properties: for random inputs and batch sizes, the pipeline matches the reference for
//! every window kind.

use super::*;

proptest! {
    #![proptest_config(crate::support::proptest_config(256))]

    #[test]
    fn tumbling_matches_the_reference(case in case(tumbling_spec())) {
        check(&case)?;
    }

    #[test]
    fn hopping_matches_the_reference(case in case(hopping_spec())) {
        check(&case)?;
    }

    #[test]
    fn session_matches_the_reference_one_record_per_batch(case in case(session_spec())) {
        check(&Case { batch_sizes: vec![1], ..case })?;
    }

    #[test]
    fn session_matches_the_reference(case in case(session_spec())) {
        check(&case)?;
    }
}

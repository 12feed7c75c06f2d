//! `#[weir_sdk::processor]`: exports an `impl MapReduce for T` or `impl Transform for T` block as
//! a Weir module. Use it through `weir_sdk`, not this crate directly.

use proc_macro::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, parse_macro_input};

/// Exports the marked `impl MapReduce for T` or `impl Transform for T` block as the module's
/// `processor` interface. See the `weir_sdk` crate documentation.
#[proc_macro_attribute]
pub fn processor(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let attr = proc_macro2::TokenStream::from(attr);
        return quote_spanned! { attr.span() =>
            compile_error!("#[weir_sdk::processor] takes no arguments");
        }
        .into();
    }
    let item = parse_macro_input!(item as ItemImpl);
    match export(&item) {
        Ok(export) => quote! { #item #export }.into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote! { #item #err }.into()
        }
    }
}

fn export(item: &ItemImpl) -> syn::Result<proc_macro2::TokenStream> {
    let wrong_place = || {
        syn::Error::new(
            item.self_ty.span(),
            "#[weir_sdk::processor] goes on an `impl weir_sdk::MapReduce for YourType` or \
             `impl weir_sdk::Transform for YourType` block",
        )
    };
    let (_, trait_path, _) = item.trait_.as_ref().ok_or_else(wrong_place)?;
    let trait_name = trait_path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .ok_or_else(wrong_place)?;
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "#[weir_sdk::processor]: the exported type cannot be generic",
        ));
    }
    let self_ty = &item.self_ty;
    let adapter = match trait_name.as_str() {
        "MapReduce" => quote! { ::weir_sdk::__private::MapReduceGuest<#self_ty> },
        "Transform" => quote! { ::weir_sdk::__private::TransformGuest<#self_ty> },
        _ => return Err(wrong_place()),
    };
    // The component exports exist only in the wasm build: natively (unit tests of the module's
    // logic, doc tests) their names, which contain `:` and `@`, cannot be linker symbols.
    Ok(quote! {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __WeirExportedGuest = #adapter;
        #[cfg(target_arch = "wasm32")]
        ::weir_sdk::__private::export_guest!(__WeirExportedGuest with_types_in ::weir_sdk::bindings);
    })
}

#[cfg(test)]
mod tests {
    use super::export;
    use syn::parse_quote;

    fn error(item: syn::ItemImpl) -> String {
        export(&item).expect_err("should be refused").to_string()
    }

    #[test]
    fn exports_map_reduce_and_transform_impls() {
        let map_reduce = export(&parse_quote! { impl weir_sdk::MapReduce for WordCount {} }).expect("ok");
        assert!(map_reduce.to_string().contains("MapReduceGuest < WordCount >"));
        let transform = export(&parse_quote! { impl Transform for Filter {} }).expect("ok");
        assert!(transform.to_string().contains("TransformGuest < Filter >"));
    }

    #[test]
    fn explains_where_the_attribute_goes() {
        assert!(error(parse_quote! { impl WordCount {} }).contains("goes on an `impl weir_sdk::MapReduce"));
        assert!(error(parse_quote! { impl Clone for WordCount {} }).contains("goes on an"));
        assert!(error(parse_quote! { impl<T> MapReduce for W<T> {} }).contains("cannot be generic"));
    }
}

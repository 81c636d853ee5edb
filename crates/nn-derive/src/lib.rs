//! `#[derive(Module)]` for the `nn` crate (use it as `nn::Module`; this crate is re-exported
//! there and needs no dependency of its own).
//!
//! The derive implements `nn::ModuleFields`: the walk over a struct's parameters, buffers,
//! sub-modules and train/eval flags, from which `nn::Module` provides everything else
//! (named parameters, state dicts, `train()`/`eval()`, ...). `forward` stays hand-written, in
//! `impl Module for ...`.
//!
//! Each field is classified by its attributes, then by its type:
//!
//! | field | is |
//! |---|---|
//! | `#[module(skip)]` | ignored (not saved, not trained) |
//! | `#[module(param)]`, or type `Param<..>` | a trainable parameter |
//! | `#[module(buffer)]`, or type `Buffer<..>` | a buffer: saved and loaded, never trained |
//! | `#[module(training)]` (a `bool`) | set by `train()`/`eval()` |
//! | `bool`, numbers, `char`, `String`, `PhantomData<..>` | ignored |
//! | `Option<X>`, `Vec<X>` | `X`, when present / for each element (`name.0`, `name.1`, ...) |
//! | anything else | a sub-module (it must implement `Module`) |
//!
//! A `Tensor` field must say what it is (`#[module(buffer)]` or `#[module(skip)]`): silently
//! dropping it from the state dict would be a wrong result. Names are the field names (tuple
//! fields: `0`, `1`, ...) joined with dots, as PyTorch names `nn.Module` attributes;
//! `#[module(rename = "fc1")]` changes one. The struct attribute `#[module(crate = path)]`
//! says where `nn` is (default `::nn`).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type};

/// Derives `nn::ModuleFields` (see the crate docs).
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What a field holds, after looking through `Option` and `Vec`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Param,
    Buffer,
    Module,
    Training,
    Skip,
}

struct FieldSpec {
    kind: Option<Kind>,
    rename: Option<String>,
}

fn field_spec(field: &syn::Field) -> syn::Result<FieldSpec> {
    let mut spec = FieldSpec { kind: None, rename: None };
    for attr in &field.attrs {
        if !attr.path().is_ident("module") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            let set = |spec: &mut FieldSpec, k: Kind| {
                if spec.kind.is_some() {
                    return Err(meta.error("give one of skip, param, buffer, submodule, training"));
                }
                spec.kind = Some(k);
                Ok(())
            };
            if meta.path.is_ident("skip") {
                set(&mut spec, Kind::Skip)
            } else if meta.path.is_ident("param") {
                set(&mut spec, Kind::Param)
            } else if meta.path.is_ident("buffer") {
                set(&mut spec, Kind::Buffer)
            } else if meta.path.is_ident("submodule") {
                set(&mut spec, Kind::Module)
            } else if meta.path.is_ident("training") {
                set(&mut spec, Kind::Training)
            } else if meta.path.is_ident("rename") {
                let s: syn::LitStr = meta.value()?.parse()?;
                spec.rename = Some(s.value());
                Ok(())
            } else {
                Err(meta.error("unknown #[module] option; expected skip, param, buffer, submodule, training or rename"))
            }
        })?;
    }
    Ok(spec)
}

/// The last path segment of a type (`Param` for `nn::Param<T>`) and its first type argument.
fn last_segment(ty: &Type) -> Option<(&Ident, Option<&Type>)> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let seg = p.path.segments.last()?;
    let arg = match &seg.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    Some((&seg.ident, arg))
}

/// Plain data that is never part of a module's state.
fn is_plain(ty: &Type) -> bool {
    const PLAIN: &[&str] = &[
        "bool",
        "char",
        "f32",
        "f64",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "String",
        "PhantomData",
    ];
    match ty {
        Type::Reference(r) => matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str")),
        _ => last_segment(ty).is_some_and(|(id, _)| PLAIN.iter().any(|p| id == p)),
    }
}

/// The kind of a leaf type (not `Option`/`Vec`) without an attribute.
fn kind_of_leaf(ty: &Type, field: &str) -> syn::Result<Kind> {
    if is_plain(ty) {
        return Ok(Kind::Skip);
    }
    match last_segment(ty).map(|(id, _)| id.to_string()).as_deref() {
        Some("Param") => Ok(Kind::Param),
        Some("Buffer") => Ok(Kind::Buffer),
        Some("Tensor") => Err(syn::Error::new(
            ty.span(),
            format!(
                "#[derive(Module)]: field `{field}` is a Tensor: mark it #[module(buffer)] (saved and loaded, \
                 not trained) or #[module(skip)] (not part of the module's state); a trained tensor is a Param"
            ),
        )),
        _ => Ok(Kind::Module),
    }
}

/// `Some(inner)` if `ty` is `Option<inner>` / `Vec<inner>`.
fn container<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    match last_segment(ty) {
        Some((id, Some(inner))) if id == name => Some(inner),
        _ => None,
    }
}

struct Gen {
    visit: Vec<TokenStream2>,
    visit_mut: Vec<TokenStream2>,
    bounds: Vec<TokenStream2>,
}

/// Code that visits the value `access` (an expression of type `&ty` / `&mut ty`) under the
/// name `name` (an expression of type `&str`), looking through `Option` and `Vec`.
#[allow(clippy::too_many_arguments)]
fn gen_value(
    g: &mut Gen,
    krate: &TokenStream2,
    float: &TokenStream2,
    ty: &Type,
    forced: Option<Kind>,
    field: &str,
    access: (TokenStream2, TokenStream2),
    name: TokenStream2,
    depth: usize,
) -> syn::Result<()> {
    let span = ty.span();
    let (acc, acc_mut) = access;
    if let Some(inner) = container(ty, "Option") {
        let v = format_ident!("__v{}", depth);
        let mut sub = Gen { visit: vec![], visit_mut: vec![], bounds: vec![] };
        gen_value(&mut sub, krate, float, inner, forced, field, (quote!(#v), quote!(#v)), name, depth + 1)?;
        let (a, b) = (&sub.visit, &sub.visit_mut);
        g.visit.push(quote_spanned!(span=> if let ::core::option::Option::Some(#v) = #acc { #(#a)* }));
        g.visit_mut.push(quote_spanned!(span=> if let ::core::option::Option::Some(#v) = #acc_mut { #(#b)* }));
        g.bounds.extend(sub.bounds);
        return Ok(());
    }
    if let Some(inner) = container(ty, "Vec") {
        let (v, i, n) = (format_ident!("__v{}", depth), format_ident!("__i{}", depth), format_ident!("__n{}", depth));
        let mut sub = Gen { visit: vec![], visit_mut: vec![], bounds: vec![] };
        gen_value(&mut sub, krate, float, inner, forced, field, (quote!(#v), quote!(#v)), quote!(&#n), depth + 1)?;
        let (a, b) = (&sub.visit, &sub.visit_mut);
        g.visit.push(quote_spanned!(span=>
            for (#i, #v) in ::core::iter::Iterator::enumerate((#acc).iter()) {
                let #n = ::std::format!("{}.{}", #name, #i);
                #(#a)*
            }
        ));
        g.visit_mut.push(quote_spanned!(span=>
            for (#i, #v) in ::core::iter::Iterator::enumerate((#acc_mut).iter_mut()) {
                let #n = ::std::format!("{}.{}", #name, #i);
                #(#b)*
            }
        ));
        g.bounds.extend(sub.bounds);
        return Ok(());
    }
    let kind = match forced {
        Some(k) => k,
        None => kind_of_leaf(ty, field)?,
    };
    match kind {
        Kind::Skip => {}
        Kind::Param => {
            g.visit.push(quote_spanned!(span=> __visitor.param(#name, #krate::module::AsParam::as_param(#acc));));
            g.visit_mut
                .push(quote_spanned!(span=> __visitor.param(#name, #krate::module::AsParam::as_param_mut(#acc_mut));));
            g.bounds.push(quote_spanned!(span=> #ty: #krate::module::AsParam<#float>));
        }
        Kind::Buffer => {
            g.visit.push(quote_spanned!(span=> __visitor.buffer(#name, #acc);));
            g.visit_mut.push(quote_spanned!(span=> __visitor.buffer(#name, #acc_mut);));
            g.bounds.push(quote_spanned!(span=> #ty: #krate::module::BufferSlot<#float>));
        }
        Kind::Module => {
            g.visit.push(quote_spanned!(span=> __visitor.module(#name, #acc);));
            g.visit_mut.push(quote_spanned!(span=> __visitor.module(#name, #acc_mut);));
            g.bounds.push(quote_spanned!(span=> #ty: #krate::Module<#float>));
        }
        Kind::Training => {
            let is_bool = matches!(ty, Type::Path(p) if p.path.is_ident("bool"));
            if !is_bool {
                return Err(syn::Error::new(span, "#[module(training)] goes on a `bool` field"));
            }
            g.visit.push(quote_spanned!(span=> __visitor.flag(*#acc);));
            g.visit_mut.push(quote_spanned!(span=> __visitor.flag(#acc_mut);));
        }
    }
    Ok(())
}

/// The struct's type parameter bounded by `Float`, if any (the float type of the module).
fn float_param(input: &DeriveInput) -> Option<Ident> {
    let bounded_by_float = |bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>| {
        bounds.iter().any(|b| match b {
            syn::TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Float"),
            _ => false,
        })
    };
    for p in input.generics.type_params() {
        if bounded_by_float(&p.bounds) {
            return Some(p.ident.clone());
        }
    }
    let wc = input.generics.where_clause.as_ref()?;
    for pred in &wc.predicates {
        if let syn::WherePredicate::Type(t) = pred {
            if let Type::Path(p) = &t.bounded_ty {
                if let Some(id) = p.path.get_ident() {
                    if input.generics.type_params().any(|tp| &tp.ident == id) && bounded_by_float(&t.bounds) {
                        return Some(id.clone());
                    }
                }
            }
        }
    }
    None
}

fn crate_path(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let mut path = quote!(::nn);
    for attr in &input.attrs {
        if !attr.path().is_ident("module") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let p: syn::Path = meta.value()?.parse()?;
                path = quote!(#p);
                Ok(())
            } else {
                Err(meta.error("unknown #[module] option on a struct; expected crate = path"))
            }
        })?;
    }
    Ok(path)
}

fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let krate = crate_path(&input)?;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(Module)] needs a struct (an enum of layers is not a module)",
        ));
    };
    let existing = float_param(&input);
    let float = match &existing {
        Some(id) => quote!(#id),
        None => quote!(__F),
    };
    let mut g = Gen { visit: vec![], visit_mut: vec![], bounds: vec![] };
    let fields: Vec<(String, TokenStream2, &syn::Field)> = match &data.fields {
        Fields::Named(f) => f
            .named
            .iter()
            .map(|f| {
                let id = f.ident.as_ref().expect("named field");
                (id.to_string().trim_start_matches("r#").to_string(), quote!(#id), f)
            })
            .collect(),
        Fields::Unnamed(f) => f
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let idx = syn::Index::from(i);
                (i.to_string(), quote!(#idx), f)
            })
            .collect(),
        Fields::Unit => Vec::new(),
    };
    for (name, member, field) in fields {
        let spec = field_spec(field)?;
        if spec.kind == Some(Kind::Skip) {
            continue;
        }
        let saved_name = spec.rename.unwrap_or_else(|| name.clone());
        gen_value(
            &mut g,
            &krate,
            &float,
            &field.ty,
            spec.kind,
            &name,
            (quote!(&self.#member), quote!(&mut self.#member)),
            quote!(#saved_name),
            0,
        )?;
    }

    let ident = &input.ident;
    let mut generics = input.generics.clone();
    if existing.is_none() {
        generics.params.push(syn::parse_quote!(__F: #krate::Float));
    }
    let (impl_generics, _, _) = generics.split_for_impl();
    let (_, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut preds: Vec<TokenStream2> =
        where_clause.map(|w| w.predicates.iter().map(|p| quote!(#p)).collect()).unwrap_or_default();
    preds.extend(g.bounds);
    let (visit, visit_mut) = (&g.visit, &g.visit_mut);
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::ModuleFields<#float> for #ident #ty_generics where #(#preds,)* {
            #[allow(unused_variables)]
            fn visit<'__a>(&'__a self, __visitor: &mut dyn #krate::module::Visitor<'__a, #float>) {
                #(#visit)*
            }
            #[allow(unused_variables)]
            fn visit_mut<'__a>(&'__a mut self, __visitor: &mut dyn #krate::module::VisitorMut<'__a, #float>) {
                #(#visit_mut)*
            }
        }
    })
}

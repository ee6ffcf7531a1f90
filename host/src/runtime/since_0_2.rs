//! What every contract version from 0.2.0 on has, written once: the computed-trait world,
//! `needs-for-config`, vendor feedback, and the conversions of their types. Each version module
//! expands it over its own WIT; what a later version changes it writes itself (0.3.0: the
//! segment rule's `recheck-at`, in each module's `membership_out`).

/// Expands, inside version module `$version` (its name under `crate::runtime`), the bindings of
/// its WIT at `$wit` and every call 0.2.0 introduced.
macro_rules! since_0_2 {
    ($wit:literal, $version:ident) => {
        super::edge::four_worlds!($wit, $version);

        mod computed_trait {
            wasmtime::component::bindgen!({
                world: "computed-trait",
                path: $wit,
                with: {
                    "baton:plugin/types": crate::runtime::$version::segment_rule::baton::plugin::types,
                    "baton:plugin/host": crate::runtime::$version::segment_rule::baton::plugin::host,
                },
            });
        }

        /// A component of this version, pre-instantiated and typed by its world.
        pub(in crate::runtime) enum Pre {
            Segment(segment_rule::SegmentRulePre<Sandbox>),
            Personalizer(personalizer::PersonalizerPre<Sandbox>),
            Channel(channel_adapter::ChannelAdapterPre<Sandbox>),
            Kpi(kpi_calculator::KpiCalculatorPre<Sandbox>),
            Traits(computed_trait::ComputedTraitPre<Sandbox>),
        }

        super::edge::shared_edge!();

        impl Pre {
            /// The world this component implements.
            pub(in crate::runtime) fn kind(&self) -> c::PluginKind {
                match self {
                    Pre::Segment(_) => c::PluginKind::SegmentRule,
                    Pre::Personalizer(_) => c::PluginKind::Personalizer,
                    Pre::Channel(_) => c::PluginKind::ChannelAdapter,
                    Pre::Kpi(_) => c::PluginKind::KpiCalculator,
                    Pre::Traits(_) => c::PluginKind::ComputedTrait,
                }
            }

            fn info_other(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<types::PluginInfo> {
                let Pre::Traits(p) = self else { return Err(wrong_world()) };
                instantiated(p.instantiate(&mut *store))?.baton_plugin_traits().call_info(store)
            }

            fn validate_config_other(
                &self,
                store: &mut Store<Sandbox>,
                config: &str,
            ) -> wasmtime::Result<Result<(), types::ConfigError>> {
                let Pre::Traits(p) = self else { return Err(wrong_world()) };
                instantiated(p.instantiate(&mut *store))?.baton_plugin_traits().call_validate_config(store, config)
            }

            /// Calls `needs-for-config(config)`; none for the kinds that have no such call.
            pub(in crate::runtime) fn needs_for_config(
                &self,
                store: &mut Store<Sandbox>,
                config: &str,
            ) -> wasmtime::Result<Option<c::Needs>> {
                let needs = match self {
                    Pre::Segment(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_segmentation()
                        .call_needs_for_config(store, config)?,
                    Pre::Kpi(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_kpi()
                        .call_needs_for_config(store, config)?,
                    Pre::Traits(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_traits()
                        .call_needs_for_config(store, config)?,
                    Pre::Personalizer(_) | Pre::Channel(_) => return Ok(None),
                };
                Ok(Some(needs_out(needs)))
            }

            /// Calls a channel adapter's `verification(config)`.
            pub(in crate::runtime) fn verification(
                &self,
                store: &mut Store<Sandbox>,
                config: &str,
            ) -> wasmtime::Result<Result<c::Verification, c::ConfigError>> {
                let Pre::Channel(p) = self else { return Err(wrong_world()) };
                let answer = instantiated(p.instantiate(&mut *store))?
                    .baton_plugin_channel()
                    .call_verification(store, config)?;
                Ok(answer.map(verification_out).map_err(config_error))
            }

            /// Calls a channel adapter's `feedback` on a verified request.
            pub(in crate::runtime) fn feedback(
                &self,
                store: &mut Store<Sandbox>,
                call: &c::Invocation,
                request: &c::InboundRequest,
            ) -> wasmtime::Result<Result<Vec<c::VendorReport>, c::PluginError>> {
                let Pre::Channel(p) = self else { return Err(wrong_world()) };
                let request = channel::InboundRequest {
                    method: request.method.clone(),
                    url: request.url.clone(),
                    headers: request.headers.clone(),
                    body: request.body.clone(),
                };
                let answer = instantiated(p.instantiate(&mut *store))?.baton_plugin_channel().call_feedback(
                    store,
                    &invocation(call),
                    &request,
                )?;
                Ok(guest(answer, |reports| reports.into_iter().map(feedback_out).collect()))
            }

            /// Calls a computed-trait plugin's `compute`.
            pub(in crate::runtime) fn compute(
                &self,
                store: &mut Store<Sandbox>,
                call: &c::Invocation,
                subjects: Vec<c::Subject>,
            ) -> wasmtime::Result<Result<Vec<Vec<c::Attribute>>, c::PluginError>> {
                let Pre::Traits(p) = self else { return Err(wrong_world()) };
                let subjects: Vec<types::Subject> = subjects.into_iter().map(subject_owned).collect();
                let answer = instantiated(p.instantiate(&mut *store))?.baton_plugin_traits().call_compute(
                    store,
                    &invocation(call),
                    &subjects,
                )?;
                Ok(guest(answer, |lists| {
                    lists
                        .into_iter()
                        .map(|traits| {
                            traits
                                .into_iter()
                                .map(|a| c::Attribute { name: a.name, value: value_out(a.value) })
                                .collect()
                        })
                        .collect()
                }))
            }
        }

        /// Links the worlds 0.1.0 does not have.
        fn link_other(pre: wasmtime::component::InstancePre<Sandbox>, kind: c::PluginKind) -> wasmtime::Result<Pre> {
            match kind {
                c::PluginKind::ComputedTrait => Ok(Pre::Traits(computed_trait::ComputedTraitPre::new(pre)?)),
                other => Err(wasmtime::Error::msg(format!("no `{other}` world"))),
            }
        }

        fn info_out(info: types::PluginInfo) -> c::PluginInfo {
            c::PluginInfo {
                name: info.name,
                version: info.version,
                kind: match info.kind {
                    types::PluginKind::SegmentRule => c::PluginKind::SegmentRule,
                    types::PluginKind::Personalizer => c::PluginKind::Personalizer,
                    types::PluginKind::ChannelAdapter => c::PluginKind::ChannelAdapter,
                    types::PluginKind::KpiCalculator => c::PluginKind::KpiCalculator,
                    types::PluginKind::ComputedTrait => c::PluginKind::ComputedTrait,
                },
                description: info.description,
                config_schema: info.config_schema,
                needs: needs_out(info.needs),
                provides: info.provides,
            }
        }

        fn verification_out(v: channel::SignatureCheck) -> c::Verification {
            c::Verification {
                key: match v.key {
                    channel::SignatureKey::HmacSha1(name) => c::SignatureKey::HmacSha1(name),
                    channel::SignatureKey::HmacSha256(name) => c::SignatureKey::HmacSha256(name),
                    channel::SignatureKey::EcdsaP256Sha256(key) => c::SignatureKey::EcdsaP256Sha256(key),
                    channel::SignatureKey::Ed25519(key) => c::SignatureKey::Ed25519(key),
                },
                signed: v
                    .signed
                    .into_iter()
                    .map(|part| match part {
                        channel::SignedPart::Text(t) => c::SignedPart::Text(t),
                        channel::SignedPart::Body => c::SignedPart::Body,
                        channel::SignedPart::Url => c::SignedPart::Url,
                        channel::SignedPart::Header(h) => c::SignedPart::Header(h),
                        channel::SignedPart::SortedFormParams => c::SignedPart::SortedFormParams,
                    })
                    .collect(),
                header: v.header,
                prefix: v.prefix,
                encoding: match v.encoding {
                    channel::SignatureEncoding::Hex => c::SignatureEncoding::Hex,
                    channel::SignatureEncoding::Base64 => c::SignatureEncoding::Base64,
                },
                timestamp_header: v.timestamp_header,
            }
        }

        fn feedback_out(f: channel::VendorReport) -> c::VendorReport {
            c::VendorReport {
                kind: match f.kind {
                    channel::ReportKind::Delivered => c::ReportKind::Delivered,
                    channel::ReportKind::Deferred => c::ReportKind::Deferred,
                    channel::ReportKind::Bounced => c::ReportKind::Bounced,
                    channel::ReportKind::Dropped => c::ReportKind::Dropped,
                    channel::ReportKind::Complained => c::ReportKind::Complained,
                    channel::ReportKind::Opened => c::ReportKind::Opened,
                    channel::ReportKind::Clicked => c::ReportKind::Clicked,
                    channel::ReportKind::Unsubscribed => c::ReportKind::Unsubscribed,
                },
                idempotency_key: f.idempotency_key,
                vendor_message_id: f.vendor_message_id,
                timestamp: f.timestamp,
                properties: f.properties,
            }
        }
    };
}

pub(super) use since_0_2;

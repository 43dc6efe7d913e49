// Package shiplog is the domain of the release and deployment tracker: projects registered from
// their .wellcome_project manifests, the images pushed for their services, releases (a snapshot
// of those images under a label) and deployments (a release recorded against an environment and
// written to the parameters the consuming Terraform reads).
//
// The package holds the types, the rules and the use cases (Service), and the small interfaces
// (ports) it needs from the outside: a parameter store, the Store, an image registry and a
// runtime. It imports nothing of AWS or of storage. The Store is implemented once, by pkg/ledger,
// over drivers (memstore, bolt, awsdynamo); the other adapters (awsssm, awsecr, awsecs, httpapi,
// awslambda) sit around it too, and cmd/ and functions/ wire them together.
package shiplog

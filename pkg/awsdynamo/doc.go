// Package awsdynamo is shiplog's Store on Amazon DynamoDB (aws-sdk-go-v2).
//
// # Tables
//
// Two tables, both on-demand (PAY_PER_REQUEST). TableDefinitions is the one source of truth for
// their keys and indexes: the tests create tables from it and template.yaml is checked against it.
//
// The releases table holds one item per release, keyed by release_id (S), with the attributes of
// the design note and nothing else:
//
//	release_id          S   hash key; a ULID, so ids sort by creation time
//	project_id          S
//	project_name        S
//	created_at          N   Unix seconds
//	last_date_deployed  N   Unix seconds; absent until the first deployment
//	release_manifest    S   the project's manifest entry at release time, as a JSON string
//	requested_by        M   {id S, name S}
//	images              M   service id -> image URI (S)
//	deployments         L   of M {deployment_id S, environment M {id, name}, created_at N,
//	                        requested_by M {id, name}, description S}
//	label               S
//	description         S
//
// Its global secondary index "project_id-release_id" (hash project_id, range release_id,
// projection ALL) lists a project's releases newest first (Query, ScanIndexForward=false).
//
// The state table is a single-table design keyed by pk (S, hash) and sk (S, range), with no
// index. Keys are built from ids that cannot contain "#" (ids are letters, digits, ".", "_", "-";
// ECR repository names add "/"), so "#" separates their parts:
//
//	pk                    sk                            item
//	projects              {project}                     a registered project
//	repo#{repository}     {project}                     the services of one project that a repository feeds
//	project#{project}     latest                        the id of the project's newest release
//	project#{project}     push#{service}                the newest image pushed for a service
//	project#{project}     env#{environment}             what is deployed in an environment
//	project#{project}     deploy#{deployment}           a deployment, for the project's list
//	project#{project}     envdeploy#{environment}#{deployment}
//	                                                    the same deployment, for the environment's list
//	project#{project}     relkey#{key}                  an idempotency key of create-release
//	project#{project}     turn#{environment}            the last claim of the turn to record a deployment
//
// Item attributes (besides pk and sk):
//
//	project      project_id, name, environments (L of M {id, name}), image_repositories (L of M
//	             {id, services L of S}), tag_deployed_images (BOOL), manifest (S, JSON), version (N,
//	             bumped by every registration), mapped_repositories (L of S: every repository that
//	             may have a repo# item for this project), unfinished (BOOL, only while a
//	             registration in several transactions has not taken its last step)
//	repo#        repository, project_id, services (L of S)
//	latest       release_id
//	push#        project_id, service_id, uri, pushed_at (N)
//	env#         project_id, environment M {id, name}, release_id, deployment_id, deployed_at (N),
//	             requested_by M, description, images M, pending (L of S; absent once settled),
//	             locked_until (N; absent when unlocked), version (N: 1 for the first write, +1 by
//	             each write)
//	deploy#,     deployment_id, environment M, created_at (N), requested_by M, description,
//	envdeploy#   project_id, release_id
//	relkey#      project_id, key, hash (of the request), release_id, at (N), expires_at (N: at +
//	             shiplog.KeyTTL)
//	turn#        version (N: the state version the claimer's record replaces), deployment_id,
//	             until (N: Unix milliseconds at which the claim lapses)
//
// The state table's TTL attribute is expires_at (TimeToLive; CreateTables enables it, and so does
// template.yaml): DynamoDB deletes a key some time after it expires, typically within days, so
// every read and condition also compares expires_at with the time itself.
//
// Deployment ids are ULIDs too, so both deployment lists are one Query on a key prefix,
// newest first. Keeping a second item per deployment, rather than an index, makes the per-environment
// list strongly consistent and costs one more write in a transaction that happens once per deploy.
//
// # Reads
//
// Every read is GetItem, Query or BatchGetItem; nothing scans. Reads of the state table and
// GetItem on releases are strongly consistent; the releases index is eventually consistent (as
// every global secondary index is), so a release may take a moment to appear in its project's list.
// "latest" does not wait for it: it follows the latest pointer, which CreateRelease moves in the
// same transaction that stores the release, so "deploy latest" right after "create release"
// deploys that release.
//
//	GetProject            GetItem projects/{project}
//	ListProjects          Query pk=projects (every page)
//	RepositoryServices    Query pk=repo#{repository} (every page)
//	LatestImage           GetItem project#{project}/push#{service}
//	LatestImages          BatchGetItem of project#{project}/push#{service}, 100 services a call,
//	                      repeated only for UnprocessedKeys
//	GetRelease            GetItem releases/{release_id}, checked against project_id
//	GetReleaseKey         GetItem project#{project}/relkey#{key}
//	LatestRelease         GetItem project#{project}/latest, then GetRelease
//	ListReleases          Query the index, project_id={project}, newest first
//	DeployContext         one BatchGetItem of the project, the release and the environment state,
//	                      repeated only for UnprocessedKeys
//	ListDeployments       Query project#{project}, sk begins with deploy# or envdeploy#{env}#
//	EnvironmentStates     Query project#{project}, sk begins with env#
//
// Pages: a list asks DynamoDB for limit+1 items (Query Limit) and returns limit of them; the extra
// item only tells whether there is a next page, so the last page never carries a cursor and
// listing the newest 20 reads at most 21 items whatever the table holds. A Query that stops
// early at DynamoDB's 1 MB response limit is continued until limit+1 items or the end. The cursor
// is the key of the page's last item as base64url JSON; it is checked before use (right
// attributes, this project's partition, this list's key prefix), and anything else is Invalid.
//
// # Writes
//
// Every write is conditional, so concurrent pushes, deploys and registrations lose nothing:
//
//	CreateRelease       one TransactWriteItems: put the release if attribute_not_exists(release_id)
//	                    (else Conflict), put its event, put its idempotency key (if it has one) if
//	                    the key is absent or its expires_at is not after the new key's time (else
//	                    ErrReleaseKeyExists), and set the project's latest pointer to it if the
//	                    pointer is absent or names an older id. If only the pointer's condition
//	                    fails (a newer release won a race), the release, its event and its key are
//	                    put without it.
//	RecordPush          PutItem if the record is absent, older, or the same push (same pushed_at
//	                    and uri); else the push is reported as not applied
//	WriteEnvironment    an environment's state is versioned: its Put is conditioned on the
//	                    version the write replaces (attribute_not_exists for the first, or for an
//	                    item stored before versions), else ErrVersionConflict. Alone it is one
//	                    PutItem; with a deployment it is one TransactWriteItems that also updates
//	                    the release (list_append to deployments, SET last_date_deployed, if it
//	                    exists in this project: else ErrReleaseNotFound) and puts deploy# and
//	                    envdeploy# (if absent: else ErrDeploymentExists). A TransactionConflict
//	                    with another writer is reported as ErrVersionConflict and ErrItemsBusy,
//	                    so the domain reads again and retries without waiting for the version to
//	                    move. Before that transaction, a record with a claimant (its deploy
//	                    waited or lost a race already) claims its turn with a PutItem of
//	                    turn#{environment}, on condition that no other claimant took it for the
//	                    same version in the last 5 seconds (else ErrVersionConflict, writing
//	                    nothing); a claim is never deleted, only passed by the next version's
//	                    claims or lapsed. Deploys waiting on an environment all find it free
//	                    when its lock is released: this way one runs the transaction and the
//	                    others lose a PutItem, not a transaction of a dozen items each. The
//	                    version condition alone is what keeps two records of one version apart.
//	PutProject          GetItem the old registration, then one TransactWriteItems: put the project
//	                    if its version is still the one read, and, guarded by that condition in the
//	                    same transaction, put a repo# item per repository and delete the repo#
//	                    items of repositories the project no longer claims. A registration that
//	                    lost a race is read and applied again (up to 5 times, then Conflict).
//
// The SDK gives each TransactWriteItems a ClientRequestToken, so its own retry of a transaction
// whose answer was lost does not apply it twice.
//
// A transaction takes at most 100 items. A project whose registration needs more (more than 99
// repositories put or dropped) is written in several transactions: the first puts the project
// with mapped_repositories covering both the old and the new repositories, each later one carries
// a ConditionCheck that the project's version is still ours, and a last UpdateItem narrows
// mapped_repositories once the stale items are gone (and removes unfinished, which the first put
// sets). If that is interrupted, the error is returned and the next registration of the project
// deletes whatever is stale, because mapped_repositories never under-counts. Until then a push to
// a dropped repository may still reach the project. Creating a release from the same
// registration registers it again while the project item is unfinished (or maps other
// repositories than it claims), so that a retried CI run finishes it.
//
// # Errors
//
// Throttling (ProvisionedThroughputExceeded, ThrottlingException, RequestLimitExceeded...), server
// faults and failed connections, once the SDK's retryer has given up, are Unavailable; so are
// BatchGetItem keys that stay unprocessed. Other SDK errors are Internal and keep their cause for
// the logs; callers see only shiplog's messages.
//
// # IAM
//
// Actions lists the IAM actions the store's calls need. TransactWriteItems is not an IAM action of
// its own: each Put, Update, Delete and ConditionCheck in it needs dynamodb:PutItem, UpdateItem,
// DeleteItem and ConditionCheckItem on its table. Querying the releases index needs dynamodb:Query
// on the index's ARN (table/{releases}/index/project_id-release_id). CreateTables is for tests and
// local stacks; the functions never call it.
//
// # Tests
//
// The contract suites (shiplogtest.RunStoreTests and RunStoreConcurrencyTests) and this
// package's tests run against AWS's DynamoDB Local (pkg/localaws), each store on tables of its
// own, with concurrent writes sent as they come: DynamoDB Local isolates transactions and applies
// each item's update atomically, as DynamoDB does. (moto does neither, and dynalite has no
// TransactWriteItems.)
package awsdynamo

package awsdynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Actions lists the IAM actions that the Store's calls need, and no others (see the package
// comment: TransactWriteItems is authorized per item, BatchGetItem and Query as themselves).
var Actions = []string{
	"dynamodb:BatchGetItem",
	"dynamodb:ConditionCheckItem",
	"dynamodb:DeleteItem",
	"dynamodb:GetItem",
	"dynamodb:PutItem",
	"dynamodb:Query",
	"dynamodb:UpdateItem",
}

// maxTransactItems is DynamoDB's limit on the items of one TransactWriteItems.
const maxTransactItems = 100

// Store is a shiplog.Store on two DynamoDB tables. It is safe for concurrent use.
type Store struct {
	client   *dynamodb.Client
	releases string
	state    string
	// maxTransact bounds the items of one TransactWriteItems: DynamoDB's limit, lowered in tests
	// for moto, which still enforces the old limit of 25.
	maxTransact int
	// unprocessedDelay is the first wait before asking again for keys BatchGetItem left
	// unprocessed; it doubles each round.
	unprocessedDelay time.Duration
	// claimTTL is how long a claimed turn to record a deployment keeps other records of the same
	// version out (see claimTurn): long enough for the claimer's transaction, short enough that
	// one who died in between holds nobody up for long.
	claimTTL time.Duration
}

var _ shiplog.Store = (*Store)(nil)

// New returns a Store on the releases table and the state table, which must be distinct tables
// created as TableDefinitions describes them.
func New(client *dynamodb.Client, releasesTable, stateTable string) *Store {
	return &Store{
		client: client, releases: releasesTable, state: stateTable,
		maxTransact: maxTransactItems, unprocessedDelay: 50 * time.Millisecond, claimTTL: 5 * time.Second,
	}
}

// errRaced says that another registration of the project was written between our read and our
// write; PutProject reads again and retries.
var errRaced = errors.New("another registration changed the project since it was read")

const registerAttempts = 5

// PutProject registers a project, or replaces its registration, with its repo# items, and puts
// ev in the transaction that puts the project if the registration changes.
func (s *Store) PutProject(ctx context.Context, p shiplog.Project, ev shiplog.Event) error {
	for attempt := 1; ; attempt++ {
		err := s.putProject(ctx, p, ev)
		if !errors.Is(err, errRaced) {
			return err
		}
		if attempt == registerAttempts {
			return shiplog.Wrap(shiplog.Conflict, err, "project %s is being registered concurrently; retry", p.ID)
		}
	}
}

func (s *Store) putProject(ctx context.Context, p shiplog.Project, ev shiplog.Event) error {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.state, Key: projectKey(p.ID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return failed(err, "read project %s", p.ID)
	}
	var version int64
	var oldMapped []string
	var old *shiplog.Project
	if out.Item != nil {
		was, rec, err := decodeProject(out.Item)
		if err != nil {
			return fmt.Errorf("read project %s: %w", p.ID, err)
		}
		version, oldMapped, old = rec.Version, rec.MappedRepositories, &was
	}
	// The event rides with the project's put, whose version condition makes the read above the
	// one the change is measured against.
	var events []types.TransactWriteItem
	if shiplog.RegistrationChanged(old, p) {
		eit, err := eventItem(ev)
		if err != nil {
			return err
		}
		events = append(events, types.TransactWriteItem{Put: &types.Put{TableName: &s.state, Item: eit}})
	}

	mappings := repoMappings(p)
	repos := make([]string, 0, len(mappings))
	for r := range mappings {
		repos = append(repos, r)
	}
	sort.Strings(repos)
	var stale []string
	for _, r := range oldMapped {
		if _, ok := mappings[r]; !ok {
			stale = append(stale, r)
		}
	}
	stale = sortedUnique(stale)

	// Deletes go first, so that a registration split over several transactions clears stale
	// mappings as early as it can.
	ops := make([]types.TransactWriteItem, 0, len(stale)+len(repos))
	for _, r := range stale {
		ops = append(ops, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.state, Key: repoKey(r, p.ID)}})
	}
	for _, r := range repos {
		it, err := repoMappingItem(mappings[r])
		if err != nil {
			return err
		}
		ops = append(ops, types.TransactWriteItem{Put: &types.Put{TableName: &s.state, Item: it}})
	}

	single := 1+len(events)+len(ops) <= s.maxTransact
	mapped := repos
	if !single {
		// Until the last step, the project claims old and new repositories alike, so that an
		// interrupted registration leaves no repo# item that the next one would not clean up.
		mapped = sortedUnique(append(append([]string{}, repos...), stale...))
	}
	pit, err := projectItem(p, version+1, mapped, !single)
	if err != nil {
		return err
	}
	put := &types.Put{TableName: &s.state, Item: pit}
	if version == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		put.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	} else {
		put.ConditionExpression = aws.String("#v = :v")
		put.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		put.ExpressionAttributeValues = item{":v": num(version)}
	}

	what := fmt.Sprintf("register project %s", p.ID)
	chunk := s.maxTransact - 1
	end := min(chunk-len(events), len(ops))
	if err := s.registerTransaction(ctx, what, types.TransactWriteItem{Put: put}, append(events, ops[:end]...)); err != nil {
		return err
	}
	if single {
		return nil
	}
	ours := func() (string, map[string]string, item) {
		return "#v = :v", map[string]string{"#v": attrVersion}, item{":v": num(version + 1)}
	}
	for start := end; start < len(ops); start += chunk {
		cond, names, values := ours()
		check := &types.ConditionCheck{
			TableName: &s.state, Key: projectKey(p.ID),
			ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		}
		if err := s.registerTransaction(ctx, what, types.TransactWriteItem{ConditionCheck: check}, ops[start:min(start+chunk, len(ops))]); err != nil {
			return err
		}
	}
	cond, names, values := ours()
	names["#m"], names["#u"] = attrMapped, attrUnfinished
	values[":m"] = stringList(repos)
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.state, Key: projectKey(p.ID),
		UpdateExpression:    aws.String("SET #m = :m REMOVE #u"),
		ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	if conditionFailed(err) {
		return errRaced
	}
	if err != nil {
		return failed(err, "%s", what)
	}
	return nil
}

// registerTransaction writes guard (the project's version check) and ops in one transaction.
func (s *Store) registerTransaction(ctx context.Context, what string, guard types.TransactWriteItem, ops []types.TransactWriteItem) error {
	items := append([]types.TransactWriteItem{guard}, ops...)
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	if codes, ok := cancellation(err); ok {
		for i, code := range codes {
			if (i == 0 && code == reasonConditionFailed) || code == reasonTransactConflict {
				return errRaced
			}
		}
	}
	return transactionFailure(err, what, func(int) error { return nil })
}

func stringList(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = str(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// GetProject returns a registered project.
func (s *Store) GetProject(ctx context.Context, id string) (shiplog.Project, error) {
	if id == "" {
		return shiplog.Project{}, notRegistered(id)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.state, Key: projectKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return shiplog.Project{}, failed(err, "read project %s", id)
	}
	if out.Item == nil {
		return shiplog.Project{}, notRegistered(id)
	}
	p, _, err := decodeProject(out.Item)
	if err != nil {
		return shiplog.Project{}, fmt.Errorf("read project %s: %w", id, err)
	}
	return p, nil
}

func notRegistered(string) error {
	return shiplog.ErrProjectNotFound
}

// ListProjects returns every registered project, sorted by id (the sort key's order).
func (s *Store) ListProjects(ctx context.Context) ([]shiplog.Project, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                 &s.state,
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": str(projectsPK)},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, failed(err, "list projects")
	}
	out := make([]shiplog.Project, 0, len(items))
	for _, it := range items {
		p, _, err := decodeProject(it)
		if err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// RepositoryServices returns the services that a repository feeds, in every project.
func (s *Store) RepositoryServices(ctx context.Context, repository string) ([]shiplog.ServiceRef, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                 &s.state,
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": str(repoPrefix + repository)},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, failed(err, "read services of repository %s", repository)
	}
	refs := []shiplog.ServiceRef{}
	for _, it := range items {
		var m repoMapping
		if err := unmarshal(it, &m); err != nil {
			return nil, fmt.Errorf("read services of repository %s: %w", repository, err)
		}
		for _, svc := range m.Services {
			refs = append(refs, shiplog.ServiceRef{ProjectID: m.ProjectID, ServiceID: svc})
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].ProjectID != refs[j].ProjectID {
			return refs[i].ProjectID < refs[j].ProjectID
		}
		return refs[i].ServiceID < refs[j].ServiceID
	})
	return refs, nil
}

// pushAttempts bounds how often RecordPush tries again a transaction that lost to another push to
// the same service.
const pushAttempts = 10

// RecordPush stores rec, and ev with it in one transaction, unless the same push, a newer one, or
// another image pushed at the same second, is recorded; the condition makes that decision inside
// DynamoDB, so racing pushes cannot both win. Only when the condition fails is the record read,
// to tell the same push again (the record: true, with no second event) from a newer one.
func (s *Store) RecordPush(ctx context.Context, rec shiplog.ImageRecord, ev shiplog.Event) (bool, error) {
	it, err := pushItem(rec)
	if err != nil {
		return false, err
	}
	eit, err := eventItem(ev)
	if err != nil {
		return false, err
	}
	what := fmt.Sprintf("record push of %s for %s/%s", rec.URI, rec.ProjectID, rec.ServiceID)
	put := &types.Put{
		TableName:                 &s.state,
		Item:                      it,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #t < :t"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#t": attrPushedAt},
		ExpressionAttributeValues: item{":t": num(rec.PushedAt)},
	}
	items := []types.TransactWriteItem{{Put: put}, {Put: &types.Put{TableName: &s.state, Item: eit}}}
	for attempt := 1; ; attempt++ {
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return true, nil
		}
		older := false
		err = transactionFailure(err, what, func(i int) error {
			older = i == 0
			return nil
		})
		if older {
			cur, err := s.LatestImage(ctx, rec.ProjectID, rec.ServiceID)
			if err != nil {
				return false, err
			}
			return cur.PushedAt == rec.PushedAt && cur.URI == rec.URI, nil
		}
		if !shiplog.IsKind(err, shiplog.Conflict) || attempt == pushAttempts {
			return false, err
		}
		// Another push to the service was being written: ours is decided against it next time.
	}
}

// LatestImage returns the newest push recorded for a service.
func (s *Store) LatestImage(ctx context.Context, projectID, serviceID string) (shiplog.ImageRecord, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.state, Key: pushKey(projectID, serviceID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return shiplog.ImageRecord{}, failed(err, "read push record of %s/%s", projectID, serviceID)
	}
	if out.Item == nil {
		return shiplog.ImageRecord{}, shiplog.ErrImageNotFound
	}
	var rec shiplog.ImageRecord
	if err := unmarshal(out.Item, &rec); err != nil {
		return rec, fmt.Errorf("read push record of %s/%s: %w", projectID, serviceID, err)
	}
	return rec, nil
}

// maxBatchGetKeys is DynamoDB's limit on the keys of one BatchGetItem.
const maxBatchGetKeys = 100

// LatestImages returns the newest push recorded for each of the services that has one: one
// BatchGetItem per 100 services (repeated only for keys DynamoDB leaves unprocessed).
func (s *Store) LatestImages(ctx context.Context, projectID string, serviceIDs []string) (map[string]shiplog.ImageRecord, error) {
	out := make(map[string]shiplog.ImageRecord, len(serviceIDs))
	// BatchGetItem refuses a request that names one key twice.
	ids := sortedUnique(serviceIDs)
	for len(ids) > 0 {
		n := min(len(ids), maxBatchGetKeys)
		keys := make([]item, n)
		for i, svc := range ids[:n] {
			keys[i] = pushKey(projectID, svc)
		}
		ids = ids[n:]
		got, err := s.batchGet(ctx, map[string]types.KeysAndAttributes{
			s.state: {Keys: keys, ConsistentRead: aws.Bool(true)},
		})
		if err != nil {
			return nil, fmt.Errorf("read push records of %s: %w", projectID, err)
		}
		for _, it := range got[s.state] {
			var rec shiplog.ImageRecord
			if err := unmarshal(it, &rec); err != nil {
				return nil, fmt.Errorf("read push records of %s: %w", projectID, err)
			}
			out[rec.ServiceID] = rec
		}
	}
	return out, nil
}

// ReleaseContext reads the project item and the services' push records with one BatchGetItem per
// 100 keys (the project's and one per service), and more only for keys DynamoDB leaves
// unprocessed. A registration is unfinished while its project item says so (a registration in
// several transactions, until its last step) or claims other repositories than it maps.
func (s *Store) ReleaseContext(ctx context.Context, projectID string, serviceIDs []string, key string) (shiplog.ReleaseContext, error) {
	if projectID == "" {
		return shiplog.ReleaseContext{}, notRegistered(projectID)
	}
	keys := []item{projectKey(projectID)}
	if key != "" {
		keys = append(keys, releaseKeyKey(projectID, key))
	}
	for _, svc := range sortedUnique(serviceIDs) {
		keys = append(keys, pushKey(projectID, svc))
	}
	relKeySK := ""
	if key != "" {
		relKeySK = relKeyPrefix + key
	}
	var projectIt item
	rc := shiplog.ReleaseContext{Pushes: make(map[string]shiplog.ImageRecord, len(serviceIDs))}
	for chunk := range slices.Chunk(keys, maxBatchGetKeys) {
		got, err := s.batchGet(ctx, map[string]types.KeysAndAttributes{
			s.state: {Keys: chunk, ConsistentRead: aws.Bool(true)},
		})
		if err != nil {
			return shiplog.ReleaseContext{}, fmt.Errorf("read release context of %s: %w", projectID, err)
		}
		for _, it := range got[s.state] {
			if pk, ok := it[attrPK].(*types.AttributeValueMemberS); ok && pk.Value == projectsPK {
				projectIt = it
				continue
			}
			if sk, ok := it[attrSK].(*types.AttributeValueMemberS); ok && relKeySK != "" && sk.Value == relKeySK {
				var k shiplog.ReleaseKey
				if err := unmarshal(it, &k); err != nil {
					return shiplog.ReleaseContext{}, fmt.Errorf("read idempotency key %q of %s: %w", key, projectID, err)
				}
				rc.Key = &k
				continue
			}
			var rec shiplog.ImageRecord
			if err := unmarshal(it, &rec); err != nil {
				return shiplog.ReleaseContext{}, fmt.Errorf("read push records of %s: %w", projectID, err)
			}
			rc.Pushes[rec.ServiceID] = rec
		}
	}
	if projectIt == nil {
		return shiplog.ReleaseContext{}, notRegistered(projectID)
	}
	p, rec, err := decodeProject(projectIt)
	if err != nil {
		return shiplog.ReleaseContext{}, fmt.Errorf("read project %s: %w", projectID, err)
	}
	mapped := make([]string, 0, len(p.ImageRepositories))
	for r := range repoMappings(p) {
		mapped = append(mapped, r)
	}
	rc.Project = p
	rc.Unfinished = rec.Unfinished || !slices.Equal(sortedUnique(mapped), sortedUnique(rec.MappedRepositories))
	return rc, nil
}

// CreateRelease stores a new release, only if its id is new, and in the same transaction puts its
// event, records its idempotency key (only if the project has no live record of it), and moves
// the project's latest pointer to it unless a newer release already has it. The pointer makes
// LatestRelease strongly consistent, which the releases index, like every GSI, is not.
func (s *Store) CreateRelease(ctx context.Context, w shiplog.ReleaseWrite) error {
	r := w.Release
	if w.Key != nil && (w.Key.Key == "" || w.Key.ProjectID != r.ProjectID || w.Key.ReleaseID != r.ID) {
		return shiplog.Errorf(shiplog.Invalid, "release %s: its idempotency key needs a key, and the release's project and id", r.ID)
	}
	it, err := releaseItem(r)
	if err != nil {
		return err
	}
	eit, err := eventItem(w.Event)
	if err != nil {
		return err
	}
	// The key goes first, so that a live key is what a refusal reports even when the release's
	// other conditions fail too.
	var items []types.TransactWriteItem
	if w.Key != nil {
		kit, err := releaseKeyItem(*w.Key)
		if err != nil {
			return err
		}
		// A key DynamoDB has not yet deleted, but whose time is past, counts as absent.
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 &s.state,
			Item:                      kit,
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp <= :at"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#exp": AttrExpiresAt},
			ExpressionAttributeValues: item{":at": num(w.Key.At)},
		}})
	}
	keyed := len(items)
	put := &types.Put{
		TableName:                &s.releases,
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": attrReleaseID},
	}
	pointer := &types.Update{
		TableName:                 &s.state,
		Key:                       latestKey(r.ProjectID),
		UpdateExpression:          aws.String("SET #id = :id"),
		ConditionExpression:       aws.String("attribute_not_exists(#id) OR #id < :id"),
		ExpressionAttributeNames:  map[string]string{"#id": attrReleaseID},
		ExpressionAttributeValues: item{":id": str(r.ID)},
	}
	event := types.TransactWriteItem{Put: &types.Put{TableName: &s.state, Item: eit}}
	what := fmt.Sprintf("put release %s", r.ID)
	refusal := func(i int) error {
		if i < keyed {
			return shiplog.ErrReleaseKeyExists
		}
		return shiplog.Errorf(shiplog.Conflict, "release %s already exists", r.ID)
	}
	olderThanLatest := false
	all := append(slices.Clip(items), types.TransactWriteItem{Put: put}, types.TransactWriteItem{Update: pointer}, event)
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all})
	if err != nil {
		err = transactionFailure(err, what, func(i int) error {
			if i == keyed+1 {
				olderThanLatest = true
				return nil
			}
			return refusal(i)
		})
	}
	if err == nil || !olderThanLatest {
		return err
	}
	// A newer release was created meanwhile and holds the pointer: store this one, its event and
	// its key, without it.
	alone := append(slices.Clip(items), types.TransactWriteItem{Put: put}, event)
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: alone})
	if err != nil {
		return transactionFailure(err, what, refusal)
	}
	return nil
}

// GetReleaseKey reads a project's idempotency key, consistently.
func (s *Store) GetReleaseKey(ctx context.Context, projectID, key string) (shiplog.ReleaseKey, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.state, Key: releaseKeyKey(projectID, key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return shiplog.ReleaseKey{}, failed(err, "read idempotency key %q of %s", key, projectID)
	}
	if out.Item == nil {
		return shiplog.ReleaseKey{}, shiplog.ErrReleaseKeyNotFound
	}
	var k shiplog.ReleaseKey
	if err := unmarshal(out.Item, &k); err != nil {
		return k, fmt.Errorf("read idempotency key %q of %s: %w", key, projectID, err)
	}
	return k, nil
}

// LatestRelease follows the project's latest pointer, reading both items consistently.
func (s *Store) LatestRelease(ctx context.Context, projectID string) (shiplog.Release, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.state, Key: latestKey(projectID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return shiplog.Release{}, failed(err, "read the latest release of %s", projectID)
	}
	id, ok := out.Item[attrReleaseID].(*types.AttributeValueMemberS)
	if !ok {
		return shiplog.Release{}, shiplog.ErrReleaseNotFound
	}
	return s.GetRelease(ctx, projectID, id.Value)
}

func noRelease(_, _ string) error {
	return shiplog.ErrReleaseNotFound
}

// GetRelease returns a project's release.
func (s *Store) GetRelease(ctx context.Context, projectID, releaseID string) (shiplog.Release, error) {
	if releaseID == "" {
		return shiplog.Release{}, noRelease(projectID, releaseID)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.releases, Key: releaseKey(releaseID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return shiplog.Release{}, failed(err, "read release %s", releaseID)
	}
	if out.Item == nil {
		return shiplog.Release{}, noRelease(projectID, releaseID)
	}
	r, err := decodeRelease(out.Item)
	if err != nil {
		return r, fmt.Errorf("read release %s: %w", releaseID, err)
	}
	if r.ProjectID != projectID {
		return shiplog.Release{}, noRelease(projectID, releaseID)
	}
	return r, nil
}

// The key attributes of a page's last item, which a cursor holds.
var (
	releaseCursorKeys = []string{attrProjectID, attrReleaseID}
	stateCursorKeys   = []string{attrPK, attrSK}
)

// ListReleases returns a page of a project's releases, newest first, from the index.
func (s *Store) ListReleases(ctx context.Context, projectID string, page shiplog.PageRequest) (shiplog.Page[shiplog.Release], error) {
	start, err := decodeCursor(page.Cursor, releaseCursorKeys, func(k map[string]string) bool {
		return k[attrProjectID] == projectID
	})
	if err != nil {
		return shiplog.Page[shiplog.Release]{}, err
	}
	items, next, err := s.queryPage(ctx, &dynamodb.QueryInput{
		TableName:                 &s.releases,
		IndexName:                 aws.String(ReleasesIndex),
		KeyConditionExpression:    aws.String("#p = :p"),
		ExpressionAttributeNames:  map[string]string{"#p": attrProjectID},
		ExpressionAttributeValues: item{":p": str(projectID)},
		ScanIndexForward:          aws.Bool(false),
		ExclusiveStartKey:         start,
	}, pageLimit(page.Limit), releaseCursorKeys)
	if err != nil {
		return shiplog.Page[shiplog.Release]{}, failed(err, "list releases of %s", projectID)
	}
	out := shiplog.Page[shiplog.Release]{Items: make([]shiplog.Release, 0, len(items)), NextCursor: next}
	for _, it := range items {
		r, err := decodeRelease(it)
		if err != nil {
			return shiplog.Page[shiplog.Release]{}, fmt.Errorf("list releases of %s: %w", projectID, err)
		}
		out.Items = append(out.Items, r)
	}
	return out, nil
}

// DeployContext reads the project, the release and the environment's state with one
// BatchGetItem (and more only for keys DynamoDB leaves unprocessed). For "latest" the batch reads
// the project's latest pointer in place of the release, and one GetItem then reads the release it
// names: the release's id is not known before, and the pointer is what makes the newest release
// a consistent read.
func (s *Store) DeployContext(ctx context.Context, projectID, releaseID, environmentID string) (shiplog.DeployContext, error) {
	if projectID == "" {
		return shiplog.DeployContext{}, notRegistered(projectID)
	}
	if releaseID == "" {
		return shiplog.DeployContext{}, noRelease(projectID, releaseID)
	}
	latest := releaseID == shiplog.LatestRelease
	req := map[string]types.KeysAndAttributes{
		s.state: {Keys: []item{projectKey(projectID), envKey(projectID, environmentID)}, ConsistentRead: aws.Bool(true)},
	}
	if latest {
		st := req[s.state]
		st.Keys = append(st.Keys, latestKey(projectID))
		req[s.state] = st
	} else {
		req[s.releases] = types.KeysAndAttributes{Keys: []item{releaseKey(releaseID)}, ConsistentRead: aws.Bool(true)}
	}
	got, err := s.batchGet(ctx, req)
	if err != nil {
		return shiplog.DeployContext{}, fmt.Errorf("read deploy context of release %s: %w", releaseID, err)
	}
	var projectIt, envIt, pointerIt item
	for _, it := range got[s.state] {
		pk, _ := it[attrPK].(*types.AttributeValueMemberS)
		sk, _ := it[attrSK].(*types.AttributeValueMemberS)
		switch {
		case pk != nil && pk.Value == projectsPK:
			projectIt = it
		case sk != nil && sk.Value == latestSK:
			pointerIt = it
		default:
			envIt = it
		}
	}
	if projectIt == nil {
		return shiplog.DeployContext{}, notRegistered(projectID)
	}
	var dc shiplog.DeployContext
	if dc.Project, _, err = decodeProject(projectIt); err != nil {
		return dc, fmt.Errorf("read project %s: %w", projectID, err)
	}
	if latest {
		id, ok := pointerIt[attrReleaseID].(*types.AttributeValueMemberS)
		if !ok {
			return shiplog.DeployContext{}, noRelease(projectID, releaseID)
		}
		if dc.Release, err = s.GetRelease(ctx, projectID, id.Value); err != nil {
			return shiplog.DeployContext{}, err
		}
	} else {
		if len(got[s.releases]) == 0 {
			return shiplog.DeployContext{}, noRelease(projectID, releaseID)
		}
		if dc.Release, err = decodeRelease(got[s.releases][0]); err != nil {
			return dc, fmt.Errorf("read release %s: %w", releaseID, err)
		}
		if dc.Release.ProjectID != projectID {
			return shiplog.DeployContext{}, noRelease(projectID, releaseID)
		}
	}
	if envIt != nil {
		st, err := decodeEnvState(envIt)
		if err != nil {
			return dc, fmt.Errorf("read state of %s/%s: %w", projectID, environmentID, err)
		}
		dc.Current = &st
	}
	return dc, nil
}

// unprocessedRounds bounds how often batchGet asks again for keys DynamoDB left unprocessed
// (it does so when throttled); the waits add up to about 6 seconds.
const (
	unprocessedRounds   = 8
	maxUnprocessedDelay = 2 * time.Second
)

func (s *Store) batchGet(ctx context.Context, req map[string]types.KeysAndAttributes) (map[string][]item, error) {
	got := map[string][]item{}
	delay := s.unprocessedDelay
	for round := 0; len(req) > 0; round++ {
		if round > 0 {
			if round > unprocessedRounds {
				return nil, shiplog.Errorf(shiplog.Unavailable, "DynamoDB is throttling reads; retry later")
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			delay = min(2*delay, maxUnprocessedDelay)
		}
		out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, failed(err, "batch read")
		}
		for table, items := range out.Responses {
			got[table] = append(got[table], items...)
		}
		req = out.UnprocessedKeys
	}
	return got, nil
}

// WriteEnvironment replaces an environment's state if it is still at the version the write
// expects: a conditional PutItem, or, with a deployment, status updates or events, one
// TransactWriteItems that also writes those, so that all of it is written or none.
func (s *Store) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	projectID, envID := w.State.ProjectID, w.State.Environment.ID
	what := fmt.Sprintf("write environment %s/%s at version %d", projectID, envID, w.State.Version)
	if projectID == "" || envID == "" || w.State.Version != w.Expect+1 {
		return shiplog.Errorf(shiplog.Invalid, "environment write: project and environment ids are required, and the version must follow %d", w.Expect)
	}
	state, err := s.statePut(w)
	if err != nil {
		return err
	}
	if w.Deployment == nil && len(w.Statuses) == 0 && len(w.Events) == 0 {
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: state.TableName, Item: state.Item, ConditionExpression: state.ConditionExpression,
			ExpressionAttributeNames: state.ExpressionAttributeNames, ExpressionAttributeValues: state.ExpressionAttributeValues,
		})
		if conditionFailed(err) {
			return shiplog.ErrVersionConflict
		}
		if err != nil {
			return failed(err, "%s", what)
		}
		return nil
	}
	var items []types.TransactWriteItem
	var refusals []error // what a failed condition of each item means
	if w.Deployment != nil {
		dep, err := s.deploymentItems(*w.Deployment)
		if err != nil {
			return err
		}
		items = append(items, dep...)
		refusals = append(refusals, shiplog.ErrReleaseNotFound, shiplog.ErrDeploymentExists, shiplog.ErrDeploymentExists, shiplog.ErrDeploymentExists)
	}
	for _, u := range w.Statuses {
		ups, err := s.statusItems(u)
		if err != nil {
			return err
		}
		items = append(items, ups...)
		for range ups {
			refusals = append(refusals, shiplog.ErrDeploymentNotFound)
		}
	}
	items = append(items, types.TransactWriteItem{Put: state})
	refusals = append(refusals, shiplog.ErrVersionConflict)
	for _, ev := range w.Events {
		eit, err := eventItem(ev) // unconditional: event ids are unique
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.state, Item: eit}})
	}
	if len(items) > s.maxTransact {
		return fmt.Errorf("%s: %d items are more than a transaction takes (%d)", what, len(items), s.maxTransact)
	}
	if w.Deployment != nil && w.Claimant != "" {
		if err := s.claimTurn(ctx, w); err != nil {
			return err
		}
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	err = transactionFailure(err, what, func(i int) error {
		if i < len(refusals) {
			return refusals[i]
		}
		return shiplog.ErrVersionConflict
	})
	if shiplog.IsKind(err, shiplog.Conflict) && !errors.Is(err, shiplog.ErrDeploymentExists) && !errors.Is(err, shiplog.ErrVersionConflict) {
		// Another transaction on the same items won: the environment has moved on, is about to,
		// or (when the items were others, such as the release's) has not moved at all.
		return fmt.Errorf("%w: %w: %w", shiplog.ErrVersionConflict, shiplog.ErrItemsBusy, err)
	}
	return err
}

// claimTurn claims, with one conditional PutItem, the turn to record a deployment over version
// w.Expect of the environment, unless another record of that version claimed it less than
// s.claimTTL ago: then it answers ErrVersionConflict, as the transaction would once the other one
// commits. Deploys waiting on one environment all see it free at once when its lock is released;
// this way one of them runs the transaction and the others lose a PutItem, not a transaction of
// a dozen items each (which DynamoDB bills twice per item, and which DynamoDB Local serializes
// behind the item locks the winner needs). The claim only saves work: the state's version
// condition is what keeps two records of one version from both committing. Only contended writes
// claim (EnvironmentWrite.Contended), so a deploy that meets nobody makes no extra call. A claim
// is never deleted: the next version's claims pass it, and one whose transaction failed for
// another reason lapses after claimTTL.
func (s *Store) claimTurn(ctx context.Context, w shiplog.EnvironmentWrite) error {
	projectID, envID := w.State.ProjectID, w.State.Environment.ID
	now := time.Now()
	it := turnKey(projectID, envID)
	it[attrVersion] = num(w.Expect)
	it[attrDeployID] = str(w.Deployment.ID)
	it[attrClaimant] = str(w.Claimant)
	it[attrUntil] = num(now.Add(s.claimTTL).UnixMilli())
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.state, Item: it,
		// Free, or claimed for an older version, or lapsed, or this claimant's own (an earlier
		// attempt of the same deploy whose transaction was cancelled).
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #v < :v OR #u < :now OR #c = :c"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#v": attrVersion, "#u": attrUntil, "#c": attrClaimant},
		ExpressionAttributeValues: item{":v": num(w.Expect), ":now": num(now.UnixMilli()), ":c": str(w.Claimant)},
	})
	if conditionFailed(err) {
		return fmt.Errorf("%w: another deployment is being recorded over version %d of %s/%s", shiplog.ErrVersionConflict, w.Expect, projectID, envID)
	}
	if err != nil {
		return failed(err, "claim the turn to write environment %s/%s at version %d", projectID, envID, w.Expect+1)
	}
	return nil
}

// statePut is the conditional Put of the write's new state: on an absent item (or one stored
// before states were versioned) for version 1, else on the version the write replaces.
func (s *Store) statePut(w shiplog.EnvironmentWrite) (*types.Put, error) {
	it, err := envStateItem(w.State)
	if err != nil {
		return nil, err
	}
	put := &types.Put{TableName: &s.state, Item: it, ExpressionAttributeNames: map[string]string{"#v": attrVersion}}
	if w.Expect == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(#pk) OR attribute_not_exists(#v)")
		put.ExpressionAttributeNames["#pk"] = attrPK
	} else {
		put.ConditionExpression = aws.String("#v = :v")
		put.ExpressionAttributeValues = item{":v": num(w.Expect)}
	}
	return put, nil
}

// deploymentItems are the transaction items that record a deployment: the update of its release
// (which must exist in the deployment's project: its last_date_deployed and deployment_count; the
// deployment itself is not in it, so that the release item stays the same size however often it
// is deployed), then its three listing items (which must not exist yet).
func (s *Store) deploymentItems(rec shiplog.DeploymentRecord) ([]types.TransactWriteItem, error) {
	if rec.ReleaseID == "" {
		return nil, shiplog.ErrReleaseNotFound
	}
	release := &types.Update{
		TableName:           &s.releases,
		Key:                 releaseKey(rec.ReleaseID),
		UpdateExpression:    aws.String("SET #l = :l ADD #c :one"),
		ConditionExpression: aws.String("attribute_exists(#id) AND #p = :p"),
		ExpressionAttributeNames: map[string]string{
			"#l": attrLastDeploy, "#c": attrCount, "#id": attrReleaseID, "#p": attrProjectID,
		},
		ExpressionAttributeValues: item{
			":l":   num(rec.CreatedAt),
			":one": num(1),
			":p":   str(rec.ProjectID),
		},
	}
	items := []types.TransactWriteItem{{Update: release}}
	for _, sk := range []string{deploySK(rec.ID), envDeploySK(rec.Environment.ID, rec.ID), relDeploySK(rec.ReleaseID, rec.ID)} {
		it, err := deploymentItem(rec, sk)
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: &s.state, Item: it,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		}})
	}
	return items, nil
}

// statusItems are the transaction items of one status update: the update of each of the
// deployment's listing items (which must exist), and, for a verification, the addition of its
// environment to the release's verified_in.
func (s *Store) statusItems(u shiplog.StatusUpdate) ([]types.TransactWriteItem, error) {
	entry, err := statusEntry(u.Entry)
	if err != nil {
		return nil, err
	}
	sks := []string{deploySK(u.DeploymentID), envDeploySK(u.Environment, u.DeploymentID)}
	if !u.Unindexed {
		sks = append(sks, relDeploySK(u.ReleaseID, u.DeploymentID))
	}
	var items []types.TransactWriteItem
	for _, sk := range sks {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:           &s.state,
			Key:                 stateKey(projectPrefix+u.ProjectID, sk),
			UpdateExpression:    aws.String("SET #s = :s, #h = list_append(if_not_exists(#h, :none), :h)"),
			ConditionExpression: aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{
				"#s": attrStatus, "#h": attrHistory, "#pk": attrPK,
			},
			ExpressionAttributeValues: item{
				":s":    str(u.Entry.Status),
				":h":    entry,
				":none": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			},
		}})
	}
	if u.Entry.Status == shiplog.StatusVerified && u.ReleaseID != "" {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                &s.releases,
			Key:                      releaseKey(u.ReleaseID),
			UpdateExpression:         aws.String("ADD #vi :env"),
			ConditionExpression:      aws.String("attribute_exists(#id)"),
			ExpressionAttributeNames: map[string]string{"#vi": attrVerifiedIn, "#id": attrReleaseID},
			ExpressionAttributeValues: item{
				":env": &types.AttributeValueMemberSS{Value: []string{u.Environment}},
			},
		}})
	}
	return items, nil
}

// GetDeployment returns one of a project's deployments.
func (s *Store) GetDeployment(ctx context.Context, projectID, deploymentID string) (shiplog.DeploymentRecord, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.state,
		Key:            stateKey(projectPrefix+projectID, deploySK(deploymentID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return shiplog.DeploymentRecord{}, failed(err, "get deployment %s of %s", deploymentID, projectID)
	}
	if out.Item == nil {
		return shiplog.DeploymentRecord{}, shiplog.ErrDeploymentNotFound
	}
	rec, err := decodeDeployment(out.Item)
	if err != nil {
		return shiplog.DeploymentRecord{}, fmt.Errorf("get deployment %s of %s: %w", deploymentID, projectID, err)
	}
	return rec, nil
}

// ListDeployments returns a page of a project's deployments newest first, narrowed by the
// filter: one environment's listing items, one release's, or the release's filtered to an
// environment.
func (s *Store) ListDeployments(ctx context.Context, projectID string, f shiplog.DeploymentFilter, page shiplog.PageRequest) (shiplog.Page[shiplog.DeploymentRecord], error) {
	pk := projectPrefix + projectID
	prefix := deployPrefix
	names := map[string]string{"#pk": attrPK, "#sk": attrSK}
	values := item{":pk": str(pk)}
	var filter *string
	switch {
	case f.Release != "":
		prefix = relDeployPrefix + f.Release + "#"
		if f.Environment != "" {
			filter = aws.String("#e.#id = :env")
			names["#e"], names["#id"] = "environment", "id"
			values[":env"] = str(f.Environment)
		}
	case f.Environment != "":
		prefix = envDeployPrefix + f.Environment + "#"
	}
	values[":prefix"] = str(prefix)
	return queryNewest(ctx, s, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		FilterExpression:          filter,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, page, func(k map[string]string) bool {
		return k[attrPK] == pk && idAfter(k[attrSK], prefix)
	}, decodeDeployment, "list deployments of "+projectID)
}

// queryNewest runs a Query of the state table, newest first and strongly consistent, from a
// page's cursor (which cursorOK must accept), and decodes the page's items.
func queryNewest[T any](ctx context.Context, s *Store, in *dynamodb.QueryInput, page shiplog.PageRequest,
	cursorOK func(map[string]string) bool, decode func(item) (T, error), what string) (shiplog.Page[T], error) {
	start, err := decodeCursor(page.Cursor, stateCursorKeys, cursorOK)
	if err != nil {
		return shiplog.Page[T]{}, err
	}
	in.TableName = &s.state
	in.ScanIndexForward = aws.Bool(false)
	in.ConsistentRead = aws.Bool(true)
	in.ExclusiveStartKey = start
	items, next, err := s.queryPage(ctx, in, pageLimit(page.Limit), stateCursorKeys)
	if err != nil {
		return shiplog.Page[T]{}, failed(err, "%s", what)
	}
	out := shiplog.Page[T]{Items: make([]T, 0, len(items)), NextCursor: next}
	for _, it := range items {
		v, err := decode(it)
		if err != nil {
			return shiplog.Page[T]{}, fmt.Errorf("%s: %w", what, err)
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// EnvironmentStates returns the state of each environment of the project ever deployed to.
func (s *Store) EnvironmentStates(ctx context.Context, projectID string) ([]shiplog.EnvironmentState, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                 &s.state,
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: item{":pk": str(projectPrefix + projectID), ":prefix": str(envPrefix)},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, failed(err, "read environments of %s", projectID)
	}
	out := make([]shiplog.EnvironmentState, 0, len(items))
	for _, it := range items {
		st, err := decodeEnvState(it)
		if err != nil {
			return nil, fmt.Errorf("read environments of %s: %w", projectID, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// ListEvents returns a page of a project's events newest first: a Query of its event# items, from
// the newest down to the since's EventIDFloor (a key condition, so an old log costs nothing),
// filtered to the type and the since's exact second.
func (s *Store) ListEvents(ctx context.Context, projectID string, f shiplog.EventFilter, page shiplog.PageRequest) (shiplog.Page[shiplog.Event], error) {
	pk := projectPrefix + projectID
	names := map[string]string{"#pk": attrPK, "#sk": attrSK}
	values := item{":pk": str(pk)}
	cond := "#pk = :pk AND begins_with(#sk, :prefix)"
	values[":prefix"] = str(EventPrefix)
	if floor := shiplog.EventIDFloor(f.Since); floor != "" {
		// Every event sort key lies below "event$" ("$" follows "#").
		cond = "#pk = :pk AND #sk BETWEEN :prefix AND :end"
		values[":prefix"] = str(EventPrefix + floor)
		values[":end"] = str("event$")
	}
	var filters []string
	if f.Type != "" {
		filters = append(filters, "#ty = :ty")
		names["#ty"] = attrType
		values[":ty"] = str(f.Type)
	}
	if f.Since > 0 {
		filters = append(filters, "#at >= :since")
		names["#at"] = attrAt
		values[":since"] = num(f.Since)
	}
	var filter *string
	if len(filters) > 0 {
		filter = aws.String(strings.Join(filters, " AND "))
	}
	return queryNewest(ctx, s, &dynamodb.QueryInput{
		KeyConditionExpression:    &cond,
		FilterExpression:          filter,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, page, func(k map[string]string) bool {
		return k[attrPK] == pk && idAfter(k[attrSK], EventPrefix)
	}, DecodeEvent, "list events of "+projectID)
}

// pageLimit applies the domain's bounds to a store-level request (the service has checked them).
func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return shiplog.DefaultPageLimit
	case limit > shiplog.MaxPageLimit:
		return shiplog.MaxPageLimit
	}
	return limit
}

// queryPage reads up to limit items and tells whether more follow by asking for limit+1: the
// extra item is read, not returned, and the cursor is the key of the last item returned. It goes
// on past a response that DynamoDB cut short at 1 MB.
func (s *Store) queryPage(ctx context.Context, in *dynamodb.QueryInput, limit int, keys []string) ([]item, string, error) {
	var items []item
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(items)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, "", err
		}
		items = append(items, out.Items...)
		if len(items) > limit || out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	cursor, err := encodeCursor(items[limit-1], keys)
	return items, cursor, err
}

// queryAll reads every page of a Query.
func (s *Store) queryAll(ctx context.Context, in *dynamodb.QueryInput) ([]item, error) {
	var items []item
	pages := dynamodb.NewQueryPaginator(s.client, in)
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

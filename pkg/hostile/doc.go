// Package hostile holds only tests: a table of hostile requests, over every route of the HTTP
// API and every function of the Invoke API, run against a seeded shiplog on each store (bbolt,
// and DynamoDB Local with SSM on moto). Every request must be refused with a 4xx in the API's
// error shape (or a Lambda function error of kind Invalid, NotFound or Conflict), or, for a
// platform event, answered as ignored; none may answer 5xx, and none may change the store.
//
// It is a package of its own because it needs both stores and both channels, which no adapter
// package imports together.
package hostile

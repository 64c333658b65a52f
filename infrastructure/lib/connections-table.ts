import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { connectionsTable, historyTable } from '#src/config/resources.js';

/**
 * The item-level calls the store adapters make (GetItem, Query, PutItem, UpdateItem, DeleteItem, BatchWriteItem);
 * no Scan, no batch or transactional reads, no table management.
 */
const itemActions = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

/**
 * The `Connections` table, built from the definition local mode provisions (`config/resources.ts`): one item per
 * connection and one per subscription, the sparse bucketed channel index (only subscription items carry its
 * keys) projecting the expiry, TTL on the expiry, on-demand billing, KMS encryption at rest.
 *
 * Removal policy DESTROY: every item expires within hours (connections last at most 2 h) and clients rebuild
 * their state by reconnecting, so there is nothing worth keeping after `cdk destroy`.
 */
export class ConnectionsTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const t = connectionsTable;
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: t.partitionKey, type: AttributeType.STRING },
      sortKey: { name: t.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      timeToLiveAttribute: t.ttlAttribute,
      removalPolicy: RemovalPolicy.DESTROY,
      globalSecondaryIndexes: [
        {
          indexName: t.channelIndex.name,
          partitionKey: { name: t.channelIndex.partitionKey, type: AttributeType.STRING },
          sortKey: { name: t.channelIndex.sortKey, type: AttributeType.STRING },
          projectionType: ProjectionType.INCLUDE,
          nonKeyAttributes: [...t.channelIndex.nonKeyAttributes],
        },
      ],
    });
  }

  /** Read and write items of the table itself (not its index). */
  grantItems(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({ grantee, actions: itemActions, resourceArns: [this.table.tableArn] });
  }

  /** Query the channel index, by its name (not `index/*`). */
  grantChannelIndexQuery(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.table.tableArn}/index/${connectionsTable.channelIndex.name}`],
    });
  }
}

/**
 * The `History` table (`config/resources.ts`, `historyTable`): each channel's retained items for resume and
 * history reads, keyed by channel and sequence, with the local index `byId` (keys and expiry) to find a `since` id.
 * TTL on the expiry, on-demand billing, KMS encryption at rest, removal policy DESTROY (items live an hour by
 * default; history is a convenience for reconnecting clients, not a record of the channel).
 */
export class HistoryTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const h = historyTable;
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: h.partitionKey, type: AttributeType.STRING },
      sortKey: { name: h.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      timeToLiveAttribute: h.ttlAttribute,
      removalPolicy: RemovalPolicy.DESTROY,
      localSecondaryIndexes: [
        {
          indexName: h.idIndex.name,
          sortKey: { name: h.idIndex.sortKey, type: AttributeType.STRING },
          projectionType: ProjectionType.INCLUDE,
          nonKeyAttributes: [...h.idIndex.nonKeyAttributes],
        },
      ],
    });
  }

  /** The worker: PutItem (record) and Query on the table and its id index (replay). */
  grantReadWrite(grantee: IGrantable): Grant {
    Grant.addToPrincipal({ grantee, actions: ['dynamodb:PutItem'], resourceArns: [this.table.tableArn] });
    return this.grantRead(grantee);
  }

  /** The control API: Query on the table and its id index (history reads). */
  grantRead(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [this.table.tableArn, `${this.table.tableArn}/index/${historyTable.idIndex.name}`],
    });
  }
}

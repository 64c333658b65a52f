import { Validations } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The GRIP key: the HS256 secret shared with the backend (it verifies `Grip-Sig` with it) and with publishers
 * (they sign control API calls with it). Secrets Manager generates it at deploy time, so its value never appears
 * in the template, an environment variable or an output; functions get only its ARN and read it at cold start.
 *
 * 48 letters and digits (≈ 285 bits): usable verbatim as `key=` in a GRIP_URL, no escaping.
 */
export class GripKey extends Construct {
  readonly secret: Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.secret = new Secret(this, 'Secret', {
      description: 'GRIP key: signs Grip-Sig for the backend and authenticates control API (publish) calls.',
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The GRIP key is shared with systems outside AWS (the backend verifies Grip-Sig with it, publishers sign with it); ' +
        'an automatic rotation would break them until they are updated. Rotation is a coordinated manual step (README.md, "Deploy to AWS").',
    });
  }

  /** GetSecretValue on this secret only: the functions read the value at cold start and never describe it. */
  grantRead(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [this.secret.secretArn] });
  }
}

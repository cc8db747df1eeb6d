//! Public-domain texts read by the synthesisers besides the licence texts
//! shipped in Debian's `/usr/share/common-licenses`.

/// Abraham Lincoln, Gettysburg Address (1863), and the opening of the United
/// States Declaration of Independence (1776).
pub const ENGLISH: &str = "Four score and seven years ago our fathers brought forth on this \
continent, a new nation, conceived in Liberty, and dedicated to the proposition that all men \
are created equal. Now we are engaged in a great civil war, testing whether that nation, or any \
nation so conceived and so dedicated, can long endure. We are met on a great battle-field of \
that war. We have come to dedicate a portion of that field, as a final resting place for those \
who here gave their lives that that nation might live. It is altogether fitting and proper that \
we should do this. But, in a larger sense, we can not dedicate, we can not consecrate, we can \
not hallow this ground. The brave men, living and dead, who struggled here, have consecrated it, \
far above our poor power to add or detract. The world will little note, nor long remember what \
we say here, but it can never forget what they did here. It is for us the living, rather, to be \
dedicated here to the unfinished work which they who fought here have thus far so nobly \
advanced. It is rather for us to be here dedicated to the great task remaining before us, that \
from these honored dead we take increased devotion to that cause for which they gave the last \
full measure of devotion, that we here highly resolve that these dead shall not have died in \
vain, that this nation, under God, shall have a new birth of freedom, and that government of \
the people, by the people, for the people, shall not perish from the earth.
When in the Course of human events, it becomes necessary for one people to dissolve the \
political bands which have connected them with another, and to assume among the powers of the \
earth, the separate and equal station to which the Laws of Nature and of Nature's God entitle \
them, a decent respect to the opinions of mankind requires that they should declare the causes \
which impel them to the separation. We hold these truths to be self-evident, that all men are \
created equal, that they are endowed by their Creator with certain unalienable Rights, that \
among these are Life, Liberty and the pursuit of Happiness. That to secure these rights, \
Governments are instituted among Men, deriving their just powers from the consent of the \
governed. Hello? Yes, this is Mary speaking. Can you hear me now? I said I would call you back \
at three o'clock, but the meeting ran late. Could you hold on a second, somebody is at the door. \
Okay, I'm back. Where were we? Right, the order number is four five seven, two nine one, eight.";

/// Brothers Grimm, "Der Froschkönig oder der eiserne Heinrich" (1812).
pub const GERMAN: &str = "In den alten Zeiten, wo das Wünschen noch geholfen hat, lebte ein \
König, dessen Töchter waren alle schön, aber die jüngste war so schön, dass die Sonne selber, \
die doch so vieles gesehen hat, sich verwunderte, sooft sie ihr ins Gesicht schien. Nahe bei dem \
Schlosse des Königs lag ein großer dunkler Wald, und in dem Walde unter einer alten Linde war \
ein Brunnen. Wenn nun der Tag recht heiß war, so ging das Königskind hinaus in den Wald und \
setzte sich an den Rand des kühlen Brunnens, und wenn sie Langeweile hatte, so nahm sie eine \
goldene Kugel, warf sie in die Höhe und fing sie wieder; und das war ihr liebstes Spielwerk. Nun \
trug es sich einmal zu, dass die goldene Kugel der Königstochter nicht in ihr Händchen fiel, das \
sie in die Höhe gehalten hatte, sondern vorbei auf die Erde schlug und geradezu ins Wasser \
hineinrollte. Die Königstochter folgte ihr mit den Augen nach, aber die Kugel verschwand, und der \
Brunnen war tief, so tief, dass man keinen Grund sah. Da fing sie an zu weinen und weinte immer \
lauter und konnte sich gar nicht trösten. Und wie sie so klagte, rief ihr jemand zu: Was hast du \
vor, Königstochter, du schreist ja, dass sich ein Stein erbarmen möchte. Sie sah sich um, woher \
die Stimme käme, da erblickte sie einen Frosch, der seinen dicken hässlichen Kopf aus dem Wasser \
streckte. Ach, du bist's, alter Wasserpatscher, sagte sie, ich weine über meine goldene Kugel, \
die mir in den Brunnen hinabgefallen ist.";

/// Déclaration des droits de l'homme et du citoyen (1789), articles 1 to 6.
pub const FRENCH: &str = "Article premier. Les hommes naissent et demeurent libres et égaux en \
droits. Les distinctions sociales ne peuvent être fondées que sur l'utilité commune. Article \
deux. Le but de toute association politique est la conservation des droits naturels et \
imprescriptibles de l'homme. Ces droits sont la liberté, la propriété, la sûreté, et la \
résistance à l'oppression. Article trois. Le principe de toute souveraineté réside \
essentiellement dans la nation. Nul corps, nul individu ne peut exercer d'autorité qui n'en \
émane expressément. Article quatre. La liberté consiste à pouvoir faire tout ce qui ne nuit pas à \
autrui : ainsi, l'exercice des droits naturels de chaque homme n'a de bornes que celles qui \
assurent aux autres membres de la société la jouissance de ces mêmes droits. Ces bornes ne \
peuvent être déterminées que par la loi. Article cinq. La loi n'a le droit de défendre que les \
actions nuisibles à la société. Tout ce qui n'est pas défendu par la loi ne peut être empêché, et \
nul ne peut être contraint à faire ce qu'elle n'ordonne pas. Article six. La loi est \
l'expression de la volonté générale. Tous les citoyens ont droit de concourir personnellement, \
ou par leurs représentants, à sa formation. Elle doit être la même pour tous, soit qu'elle \
protège, soit qu'elle punisse. Tous les citoyens étant égaux à ses yeux sont également \
admissibles à toutes dignités, places et emplois publics, selon leur capacité, et sans autre \
distinction que celle de leurs vertus et de leurs talents.";

/// Miguel de Cervantes, Don Quijote de la Mancha (1605), chapter one.
pub const SPANISH: &str = "En un lugar de la Mancha, de cuyo nombre no quiero acordarme, no ha \
mucho tiempo que vivía un hidalgo de los de lanza en astillero, adarga antigua, rocín flaco y \
galgo corredor. Una olla de algo más vaca que carnero, salpicón las más noches, duelos y \
quebrantos los sábados, lentejas los viernes, algún palomino de añadidura los domingos, \
consumían las tres partes de su hacienda. El resto della concluían sayo de velarte, calzas de \
velludo para las fiestas con sus pantuflos de lo mismo, los días de entre semana se honraba con \
su vellori de lo más fino. Tenía en su casa una ama que pasaba de los cuarenta, y una sobrina que \
no llegaba a los veinte, y un mozo de campo y plaza, que así ensillaba el rocín como tomaba la \
podadera. Frisaba la edad de nuestro hidalgo con los cincuenta años, era de complexión recia, \
seco de carnes, enjuto de rostro; gran madrugador y amigo de la caza. Quieren decir que tenía el \
sobrenombre de Quijada o Quesada, que en esto hay alguna diferencia en los autores que deste \
caso escriben; aunque por conjeturas verosímiles se deja entender que se llamaba Quijana. Pero \
esto importa poco a nuestro cuento; basta que en la narración dél no se salga un punto de la \
verdad. Es, pues, de saber, que este sobredicho hidalgo, los ratos que estaba ocioso, que eran \
los más del año, se daba a leer libros de caballerías con tanta afición y gusto, que olvidó casi \
de todo punto el ejercicio de la caza, y aun la administración de su hacienda.";
